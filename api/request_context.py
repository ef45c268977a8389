"""X-Request-ID (DESIGN.md §8): taken from the request when it is a sensible id, made
otherwise, answered back, and bound to every line logged while the request is answered (and
carried into the messages it sends to the workers, workers.step_context). A route on one
import (`/imports/{job_id}/...`) binds its importId too."""

from __future__ import annotations

import re
import uuid

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from config import logs

HEADER = "x-request-id"
# Printable, no spaces or quotes, bounded: a client's id is echoed and logged, never trusted.
VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.decode("latin-1").lower() == HEADER:
            given = value.decode("latin-1")
            if VALID_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_of(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        job_id = scope.get("path_params", {}).get("job_id")
        with logs.bound(requestId=request_id, importId=job_id):
            await app(scope, receive, send_with_id)

    return middleware
