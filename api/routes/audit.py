"""The audit trail (admin): read only; no route changes or deletes an event."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, Parameter, QueryParameter

from api.models.audit import AuditEventBody, AuditPage
from api.openapi import errors
from api.paging import MAX_OFFSET, moment
from api.security import ADMIN
from domain.audit import AuditAction
from store import audit


class AuditController(Controller):
    path = "/audit-events"
    tags = ["audit"]

    @get("/", opt=ADMIN, responses=errors(), summary="The audit trail, newest first, filtered")
    async def list_events(
        self,
        action: FromQuery[AuditAction | None] = None,
        actor_key_id: Annotated[
            str | None, QueryParameter(name="actorKeyId", max_length=100)
        ] = None,
        since: Annotated[str | None, QueryParameter(name="from", format="date-time")] = None,
        until: Annotated[str | None, QueryParameter(name="to", format="date-time")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> AuditPage:
        which = audit.EventFilter(action, actor_key_id, moment("from", since), moment("to", until))
        found, total = await audit.listed(which, limit, offset)
        return AuditPage(items=[AuditEventBody.of(event) for event in found], total=total)
