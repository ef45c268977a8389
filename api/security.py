"""Authentication as a guard: every route but the public ones needs a Bearer API key with
the role named in the route's `opt` (viewer by default)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from config import get_settings
from store.auth import Principal, authenticate
from store.documents import Role

VIEWER = {"role": Role.VIEWER}
IMPORTER = {"role": Role.IMPORTER}
ADMIN = {"role": Role.ADMIN}
PUBLIC = {"public": True}
OPENAPI_PATH = "/docs"


async def require_role(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    if handler.opt.get("public") or connection.url.path.startswith(OPENAPI_PATH):
        return
    principal = await authenticate(connection.headers.get("authorization"), get_settings())
    principal.require(handler.opt.get("role", Role.VIEWER))
    connection.state.principal = principal


def current_principal(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    principal: Principal = connection.state.principal
    return principal
