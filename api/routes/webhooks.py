"""Webhooks (DESIGN.md §7), for admins: create (the secret shown once), list, delete, send a
test message, and each webhook's delivery log."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, Parameter
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.models.webhooks import (
    CreatedWebhook,
    DeliveryBody,
    DeliveryPage,
    WebhookBody,
    WebhookPage,
)
from api.openapi import errors, model_schema, request_body
from api.paging import MAX_OFFSET
from api.security import ADMIN, current_principal
from domain.remote import MAX_URL_CHARS, URL_PATTERN
from domain.webhooks import EVENTS
from store import webhooks
from store.documents import Webhook, WebhookDelivery

Event = Literal["import.completed", "import.failed", "import.cancelled", "import.reverted"]
assert set(Event.__args__) == set(EVENTS)  # type: ignore[attr-defined]


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL_CHARS, pattern=URL_PATTERN)
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))
    description: str = Field(default="", max_length=500)


NEW_WEBHOOK_BODY = request_body(model_schema(NewWebhook), "application/json")


def _webhook(webhook: Webhook) -> WebhookBody:
    return WebhookBody(
        id=str(webhook.id),
        url=webhook.url,
        events=webhook.events,
        description=webhook.description,
        created_at=webhook.created_at,
    )


def _delivery(delivery: WebhookDelivery) -> DeliveryBody:
    return DeliveryBody(
        id=delivery.id,
        event=delivery.event,
        import_id=delivery.import_id,
        status=delivery.status.value,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
    )


def _courier() -> webhooks.Courier:
    from workers.webhooks import courier  # configures the Redis broker from the settings

    return courier


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    opt = ADMIN

    @post(
        "/",
        status_code=201,
        operation_class=NEW_WEBHOOK_BODY,
        responses=errors(422),
        summary="Register a webhook for import events; its signing secret is in this answer only",
    )
    async def create(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> CreatedWebhook:
        new = parse_json(await request.body(), NewWebhook, settings.max_json_depth)
        by = current_principal(request)
        webhook = await webhooks.create(new.url, list(new.events), new.description, by, settings)
        return CreatedWebhook(
            id=str(webhook.id),
            url=webhook.url,
            events=webhook.events,
            description=webhook.description,
            created_at=webhook.created_at,
            secret=webhook.secret,
        )

    @get("/", responses=errors(), summary="The webhooks (without their secrets)")
    async def list_webhooks(self) -> WebhookPage:
        found = await webhooks.listed()
        return WebhookPage(items=[_webhook(w) for w in found], total=len(found))

    @delete(
        "/{webhook_id:str}",
        status_code=204,
        responses=errors(404),
        summary="Delete a webhook and its delivery log",
    )
    async def remove(self, webhook_id: FromPath[str], request: Request) -> None:  # type: ignore[type-arg]
        await webhooks.delete(webhook_id, current_principal(request))

    @post(
        "/{webhook_id:str}/test",
        status_code=202,
        responses=errors(404),
        summary="Send a webhook.test message to the webhook; its delivery is in the log",
    )
    async def send_test(self, webhook_id: FromPath[str]) -> DeliveryBody:
        return _delivery(await webhooks.send_test(webhook_id, _courier()))

    @get(
        "/{webhook_id:str}/deliveries",
        responses=errors(404),
        summary="The webhook's deliveries, newest first, with their attempts",
    )
    async def list_deliveries(
        self,
        webhook_id: FromPath[str],
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> DeliveryPage:
        found, total = await webhooks.deliveries(webhook_id, limit, offset)
        return DeliveryPage(items=[_delivery(d) for d in found], total=total)
