"""Bodies of the audit trail's route (DESIGN.md §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.models.base import CamelStruct
from store.documents import AuditEvent


class AuditActorBody(CamelStruct):
    key_id: str | None  # names the API key, never the key itself
    name: str
    role: str | None  # None: a schedule's run, acting for its creator


class AuditTargetBody(CamelStruct):
    type: str
    id: str


class AuditEventBody(CamelStruct):
    id: str
    at: datetime
    actor: AuditActorBody
    action: str
    target: AuditTargetBody
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventBody:
        actor = event.actor
        return cls(
            id=event.id,
            at=event.at,
            actor=AuditActorBody(key_id=actor.key_id, name=actor.name, role=actor.role),
            action=event.action,
            target=AuditTargetBody(type=event.target_type, id=event.target_id),
            details=event.details,
        )


class AuditPage(CamelStruct):
    items: list[AuditEventBody]
    total: int
