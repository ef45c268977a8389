"""Webhooks (DESIGN.md §7) and the deliveries of their messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from store.documents.clock import utcnow


class Webhook(Document):
    """A receiver of import events (DESIGN.md §7); its secret signs every message."""

    url: str
    events: list[str]
    description: str = ""
    secret: str  # whsec_…: shown once, when created; kept to sign
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "webhooks"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Document):
    """One message to one webhook, and its attempts. `_id` is the message's `webhook-id`,
    made from the webhook, the event and the import: an event announced twice is one
    delivery."""

    id: str  # type: ignore[assignment]
    webhook_id: str
    event: str
    import_id: str | None = None
    payload: bytes  # the body, the same on every attempt
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    lease_until: datetime | None = None  # an attempt under way (store.jobs.leases)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "webhook_deliveries"
        indexes = [
            IndexModel([("webhook_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        ]
