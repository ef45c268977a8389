"""Health of the parts the API depends on."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from config import get_settings
from store import db

TIMEOUT = 3.0
# A ping that has not answered by then meets a server busy with other clients' work (the
# embedded server answers one command at a time: a customer scan holds the ping up for
# seconds). Then the driver's own view of the server decides: its monitor marks the server
# unknown as soon as a connection to it fails, so a server that is down still fails at once.
BUSY_AFTER = 0.1


_pings: dict[asyncio.AbstractEventLoop, asyncio.Task[object]] = {}


async def _mongo() -> str:
    ping = _ping()
    done, _ = await asyncio.wait({ping}, timeout=BUSY_AFTER)
    if not done and db.client().topology_description.has_readable_server():
        return "ok"  # busy, but reachable: the ping finishes (or times out) on its own
    await ping  # raises if the ping failed
    return "ok"


def _ping() -> asyncio.Task[object]:
    """The ping in flight, or a new one: checks made while the server is busy share one."""
    loop = asyncio.get_running_loop()
    ping = _pings.get(loop)
    if ping is None or ping.done():
        ping = loop.create_task(asyncio.wait_for(db.database().command("ping"), TIMEOUT))
        ping.add_done_callback(_forget)
        _pings[loop] = ping
    return ping


def _forget(ping: asyncio.Task[object]) -> None:
    if _pings.get(ping.get_loop()) is ping:
        del _pings[ping.get_loop()]
    if not ping.cancelled():
        ping.exception()  # retrieved: a failure no check awaited is not logged as lost


async def _redis() -> str:
    url = get_settings().redis_url
    if not url:
        return "error: REDIS_URL is not set"
    client = aioredis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "ok"


async def check() -> dict[str, str]:
    results = {}
    for name, probe in (("mongo", _mongo), ("redis", _redis)):
        try:
            results[name] = await probe()
        except Exception as error:  # any failure is reported, not raised
            results[name] = f"error: {type(error).__name__}"
    return results
