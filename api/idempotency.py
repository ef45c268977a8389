"""The Idempotency-Key header of the four POST routes of DESIGN.md §7: a handler hands its
work to `answer_once`, which answers the first request with a key by doing it, and the same
request again (same path and body, same API key, within IDEMPOTENCY_HOURS) from memory with
`Idempotent-Replayed: true` (store.idempotency)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, Annotated, Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter

from api.security import current_principal
from config import Settings
from store import idempotency

REPLAYED_HEADER = "Idempotent-Replayed"
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Makes the request safe to send again (1-255 printable ASCII characters, "
        "per API key, remembered IDEMPOTENCY_HOURS): the same request with the same key is "
        "answered again without being done again; another request with it gets 422; while "
        "the first is still being answered, 409 with Retry-After.",
    ),
]
REPLAY_HEADERS = [
    ResponseHeader(
        name=REPLAYED_HEADER,
        description="`true` when this is the remembered answer to an earlier request with the "
        "same Idempotency-Key",
        documentation_only=True,
        value="true",
    )
]
Part = bytes | str | IO[bytes]
HASH_CHUNK = 1024 * 1024


def _fingerprint(method: str, path: str, parts: Sequence[Part]) -> str:
    """What makes two requests the same: method, path and each part of the body (for a
    multipart form its fields' values and the file's bytes, not the form's boundary)."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    for part in parts:
        digest.update(b"\x00part\x00")
        if isinstance(part, str):
            digest.update(part.encode())
        elif isinstance(part, bytes):
            digest.update(part)
        else:
            start = part.tell()
            part.seek(0)
            while chunk := part.read(HASH_CHUNK):
                digest.update(chunk)
            part.seek(start)
    return digest.hexdigest()


async def answer_once(
    request: Request[Any, Any, Any],
    key: str | None,
    settings: Settings,
    parts: Sequence[Part],
    status: int,
    act: Callable[[str | None], Awaitable[Any]],
) -> Response[Any]:
    """`act(resource_id)` does the request's work and returns its body; `resource_id` is
    the id to give what it creates (None without a key)."""
    if key is None:
        return Response(await act(None), status_code=status)
    # Hashing a large upload is CPU work: off the event loop.
    fingerprint = await asyncio.to_thread(_fingerprint, request.method, request.url.path, parts)
    principal = current_principal(request)
    outcome = await idempotency.begin(principal.key_id, key, fingerprint, settings)
    if isinstance(outcome, idempotency.Replay):
        return Response(
            outcome.body,
            status_code=outcome.status,
            media_type=MediaType.JSON,
            headers={REPLAYED_HEADER: "true"},
        )
    async with outcome.lease:
        try:
            body = msgspec.json.encode(await act(outcome.resource_id))
        except BaseException:
            await idempotency.release(outcome)
            raise
        await idempotency.finish(outcome, status, body)
    return Response(body, status_code=status, media_type=MediaType.JSON)
