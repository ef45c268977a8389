"""Authentication and the per-key rate limit as a guard: every route but the public ones
needs a Bearer API key with the role named in the route's `opt` (viewer by default)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from config import Settings
from store import keys
from store.auth import authenticate
from store.documents import Role
from store.errors import UnknownKey
from store.principal import Principal
from store.throttle import FailedAuthentication, RateLimiter

VIEWER = {"role": Role.VIEWER}
IMPORTER = {"role": Role.IMPORTER}
ADMIN = {"role": Role.ADMIN}
PUBLIC = {"public": True}
OPENAPI_PATH = "/docs"


async def require_role(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    # OPTIONS only lists the methods of a path: public, as a CORS preflight needs it.
    if (
        handler.opt.get("public")
        or connection.scope.get("method") == "OPTIONS"
        or connection.url.path.startswith(OPENAPI_PATH)
    ):
        return
    settings: Settings = connection.app.state.settings
    failures: FailedAuthentication | None = connection.app.state.get("failed_authentication")
    address = connection.client.host if connection.client else "unknown"
    if failures is not None:
        await failures.check(address)
    try:
        principal = await authenticate(connection.headers.get("authorization"), settings)
    except UnknownKey:
        if failures is not None:
            await failures.failed(address)
        raise
    limiter: RateLimiter | None = connection.app.state.get("rate_limiter")
    if limiter is not None:
        await limiter.take(principal.key_id)
    principal.require(handler.opt.get("role", Role.VIEWER))
    await keys.touch(principal.key_id)
    connection.state.principal = principal


def current_principal(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    principal: Principal = connection.state.principal
    return principal


def bearer_token(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
    """The credential the request presented (already authenticated by the guard)."""
    return connection.headers.get("authorization", "")[7:].strip()
