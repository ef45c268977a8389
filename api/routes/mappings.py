"""Remembered mappings (admin): list them, and delete one."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get
from litestar.params import FromPath, Parameter

from api.models.mappings import RememberedMappingBody, RememberedMappingList
from api.openapi import errors
from api.paging import MAX_OFFSET
from api.security import ADMIN, current_principal
from store import mappings


class MappingController(Controller):
    path = "/mappings"
    tags = ["mappings"]

    @get(
        "/",
        opt=ADMIN,
        responses=errors(),
        summary="The remembered mappings, most recently used first",
    )
    async def list_mappings(
        self,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> RememberedMappingList:
        found, total = await mappings.list_mappings(limit, offset)
        return RememberedMappingList(
            items=[RememberedMappingBody.of(doc) for doc in found], total=total
        )

    @delete(
        "/{mapping_id:str}",
        opt=ADMIN,
        responses=errors(404),
        summary="Forget a remembered mapping",
    )
    async def delete_mapping(self, mapping_id: FromPath[str], request: Request) -> None:  # type: ignore[type-arg]
        await mappings.delete_mapping(mapping_id, current_principal(request))
