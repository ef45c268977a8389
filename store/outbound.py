"""Outbound HTTP (webhook deliveries, URL sources) that reaches only the hosts it may
(DESIGN.md §7): http or https, a host of OUTBOUND_ALLOWED_HOSTS when that is set, and no
loopback, private, link-local or otherwise non-public address unless
OUTBOUND_ALLOW_PRIVATE. Checked when a webhook or source is created (`check_url`) and again
on every connection (`GuardedBackend`): the name is resolved once, every address it has is
judged, and the connection goes to the address judged, so a name that changes its answer
(DNS rebinding) or a redirect cannot lead elsewhere."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urljoin

import httpcore

from config import Settings
from domain.errors import InvalidRequest, Unprocessable
from domain.remote import host_allowed, non_public_reason, web_address

RESOLVE_TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
# Judges an address: why it may not be reached, or None.
AddressRule = Callable[[str], str | None]


class Refused(Exception):
    """The destination may not be reached (or not at all); `str()` says why."""


def address_rule(settings: Settings) -> AddressRule:
    return (lambda _: None) if settings.outbound_allow_private else non_public_reason


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    answers = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
    )
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def _first_refusal(addresses: Iterable[str], rule: AddressRule) -> str | None:
    return next((reason for a in addresses if (reason := rule(a)) is not None), None)


async def check_url(url: str, settings: Settings) -> None:
    """At creation: 422 when the URL is not one this server may reach; 400 (as DESIGN.md §7
    says) when its host resolves to an address it may not reach."""
    _, host, port = web_address(url)
    if not host_allowed(host, settings.allowed_hosts):
        raise Unprocessable(
            f"The host {host} is not one this server may reach (OUTBOUND_ALLOWED_HOSTS)"
        )
    if settings.outbound_allow_private:
        return
    try:
        addresses = await resolve(host, port)
    except (OSError, TimeoutError) as error:
        raise Unprocessable(f"The host {host} cannot be resolved ({error})") from None
    refusal = _first_refusal(addresses, non_public_reason)
    if refusal is not None:
        raise InvalidRequest(
            f"The URL's host {host} is refused: {refusal}, and only public addresses may be "
            "reached (OUTBOUND_ALLOW_PRIVATE)"
        )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only where the rules allow."""

    def __init__(self, allowed_hosts: list[str], rule: AddressRule) -> None:
        self.allowed_hosts = allowed_hosts
        self.rule = rule
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not host_allowed(host.lower(), self.allowed_hosts):
            raise Refused(f"the host {host} is not one this server may reach")
        try:
            addresses = await resolve(host, port)
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(f"the host {host} cannot be resolved ({error})") from None
        refusal = _first_refusal(addresses, self.rule)
        if refusal is not None:
            raise Refused(f"the host {host} is refused: {refusal}")
        return await self.inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _pool(settings: Settings, rule: AddressRule | None = None) -> httpcore.AsyncConnectionPool:
    backend = GuardedBackend(settings.allowed_hosts, rule or address_rule(settings))
    return httpcore.AsyncConnectionPool(network_backend=backend, retries=0)


def _timeouts(seconds: float) -> dict[str, Any]:
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}


def _checked(url: str) -> str:
    try:
        web_address(url)
    except Unprocessable as error:
        raise Refused(str(error)) from None
    return url


@asynccontextmanager
async def get(
    url: str,
    settings: Settings,
    headers: dict[str, str] | None = None,
    idle_seconds: float = 30.0,
    rule: AddressRule | None = None,
) -> AsyncIterator[httpcore.Response]:
    """GET `url`, following up to MAX_REDIRECTS redirects (each hop checked like the first);
    the response's body streams (`aiter_stream`)."""
    async with _pool(settings, rule) as pool:
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = [("user-agent", "bulk-customer-upload"), *(headers or {}).items()]
            async with pool.stream(
                "GET", _checked(url), headers=request_headers, extensions=_timeouts(idle_seconds)
            ) as response:
                location = header(response, "location")
                if response.status in REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                yield response
                return
        raise Refused(f"more than {MAX_REDIRECTS} redirects")


async def post(
    url: str, body: bytes, headers: dict[str, str], settings: Settings, seconds: float
) -> int:
    """POST `body` to `url` (no redirect followed: a 3xx is an answer like any other); the
    status. At most `seconds` in all."""
    async with (
        _pool(settings) as pool,
        asyncio.timeout(seconds),
        pool.stream(  # the answer's body is not read: only its status counts
            "POST",
            _checked(url),
            headers=[("user-agent", "bulk-customer-upload"), *headers.items()],
            content=body,
            extensions=_timeouts(seconds),
        ) as response,
    ):
        return int(response.status)


def header(response: httpcore.Response, name: str) -> str | None:
    wanted = name.encode()
    for key, value in response.headers:
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None
