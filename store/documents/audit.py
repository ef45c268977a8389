"""The audit trail (store.audit): who did what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from store.documents.clock import utcnow


class AuditActor(BaseModel):
    """Who acted: the API key (its id, never the key), its name and role. A schedule's run
    acts for the schedule's creator, whose role is not known then (None)."""

    key_id: str | None
    name: str
    role: str | None


class AuditEvent(Document):
    """One entry of the audit trail (store.audit): inserted, never changed."""

    id: str  # type: ignore[assignment]
    at: datetime = Field(default_factory=utcnow)
    actor: AuditActor
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "audit_events"
        indexes = [
            IndexModel([("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("actor.key_id", ASCENDING), ("at", DESCENDING)]),
        ]
