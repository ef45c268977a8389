from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody
from pydantic import BaseModel, Field

from api.security import ADMIN, current_principal
from store import auth
from store.documents import Role


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class KeyController(Controller):
    tags = ["keys"]

    @get("/auth/me", summary="Who the presented key belongs to, and its role")
    async def me(self, request: Request) -> dict[str, str]:  # type: ignore[type-arg]
        principal = current_principal(request)
        return {"name": principal.name, "role": principal.role.value}

    @post("/api-keys", opt=ADMIN, status_code=201, summary="Create an API key (shown once)")
    async def create(self, data: JSONBody[NewKey]) -> dict[str, Any]:
        key = await auth.create_key(data.name, data.role)
        return {"name": data.name, "role": data.role.value, "key": key}
