from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.models.keys import CreatedKey, KeyBody, KeyList, KeyOwner, SessionOpened
from api.openapi import errors, model_schema, request_body
from api.security import ADMIN, bearer_token, current_principal
from store import auth, keys, sessions
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
        return KeyOwner(name=principal.name, role=principal.role.value, key_id=principal.key_id)

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
        stored, key = await auth.create_key(new.name, new.role, current_principal(request))
        return CreatedKey(
            id=str(stored.id),
            name=stored.name,
            role=stored.role.value,
            created_at=stored.created_at,
            key=key,
        )

    @get("/api-keys", opt=ADMIN, responses=errors(), summary="The API keys (never a key itself)")
    async def list_keys(self, settings: InjectedSettings) -> KeyList:
        return KeyList(items=[KeyBody(**item) for item in await keys.list_keys(settings)])

    @delete(
        "/api-keys/{key_id:str}",
        opt=ADMIN,
        status_code=204,
        responses=errors(404, 409),
        summary="Revoke an API key: it and every sign-in session opened with it get 401 from "
        "the next request (409 for the ADMIN_API_KEY key: its setting governs it)",
    )
    async def revoke(self, key_id: FromPath[str], request: Request) -> None:  # type: ignore[type-arg]
        await keys.revoke(key_id, current_principal(request))

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
