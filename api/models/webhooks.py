"""Bodies of the webhook routes (DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from api.models.base import CamelStruct

DeliveryStatusName = Literal["pending", "delivered", "failed"]


class WebhookBody(CamelStruct):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime


class CreatedWebhook(WebhookBody):
    secret: str  # whsec_…: shown in this answer only


class WebhookPage(CamelStruct):
    items: list[WebhookBody]
    total: int


class DeliveryBody(CamelStruct):
    id: str  # the message's webhook-id, the same on every attempt
    event: str
    import_id: str | None
    status: DeliveryStatusName
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryPage(CamelStruct):
    items: list[DeliveryBody]
    total: int
