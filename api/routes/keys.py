from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.models.keys import CreatedKey, KeyOwner, SessionOpened
from api.openapi import errors, model_schema, request_body
from api.security import ADMIN, bearer_token, current_principal
from store import auth, sessions
from store.documents import Role


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role


NEW_KEY_BODY = request_body(model_schema(NewKey), "application/json")


class KeyController(Controller):
    tags = ["keys"]

    @get("/auth/me", responses=errors(), summary="Who the presented key belongs to, and its role")
    async def me(self, request: Request) -> KeyOwner:  # type: ignore[type-arg]
        principal = current_principal(request)
        return KeyOwner(name=principal.name, role=principal.role.value)

    @post(
        "/api-keys",
        opt=ADMIN,
        status_code=201,
        operation_class=NEW_KEY_BODY,
        responses=errors(),
        summary="Create an API key (shown once)",
    )
    async def create(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> CreatedKey:
        new = parse_json(await request.body(), NewKey, settings.max_json_depth)
        key = await auth.create_key(new.name, new.role, current_principal(request))
        return CreatedKey(name=new.name, role=new.role.value, key=key)

    @post(
        "/auth/sessions",
        status_code=201,
        responses=errors(),
        summary="Open a sign-in session for the presented API key (the UI keeps its token)",
    )
    async def open_session(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> SessionOpened:
        token, opened = await sessions.open_session(
            current_principal(request), settings.session_hours
        )
        return SessionOpened(
            token=token, name=opened.name, role=opened.role.value, expires_at=opened.expires_at
        )

    @delete(
        "/auth/sessions/current",
        status_code=204,
        responses=errors(),
        summary="End the sign-in session whose token is presented (signing out)",
    )
    async def close_session(self, request: Request) -> None:  # type: ignore[type-arg]
        await sessions.close_session(bearer_token(request), current_principal(request))
