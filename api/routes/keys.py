from __future__ import annotations

from litestar import Controller, Request, get, post
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.models.keys import CreatedKey, KeyOwner
from api.openapi import errors, model_schema, request_body
from api.security import ADMIN, current_principal
from store import auth
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
        key = await auth.create_key(new.name, new.role)
        return CreatedKey(name=new.name, role=new.role.value, key=key)
