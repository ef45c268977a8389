"""Webhooks (DESIGN.md §7): receivers of import events, each message signed as Standard
Webhooks says and delivered at least once.

- An import (or revert) that ends sets `announce` on its job in the same update. The
  recovery check (workers.sweeper) announces such jobs: one delivery per subscribed webhook,
  whose `_id` (the message's `webhook-id`) is made from the webhook, the event and the job,
  so announcing twice, or a completion delivered twice, makes one delivery. Nothing of this
  runs in an import's own steps: a receiver that is down never slows an import.
- A delivery's attempt is a `deliver_webhook` message on its own queue, run by the webhook
  worker process (workers.webhooks). A failed attempt (non-2xx, or no answer within 10 s)
  is tried again after the wait of domain.webhooks.RETRY_WAITS, as a delayed message; after
  the last the delivery is `failed`. The state is here in MongoDB: the recovery check sends
  again the message of a delivery that is due and that the broker lost."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from base64 import b64encode
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import UpdateOne

from config import Settings
from domain import webhooks as rules
from domain.audit import AuditAction
from store import audit, metrics, outbound
from store.audit import Target
from store.documents import (
    DeliveryStatus,
    ImportJob,
    JobKind,
    JobStatus,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from store.errors import NotFound
from store.jobs import leases
from store.principal import Principal

log = logging.getLogger(__name__)
LAST_ERROR_CHARS = 300
# The job as GET /imports/{id} answers it (api.serializers), as plain JSON values.
Render = Callable[[ImportJob], dict[str, Any]]


class Courier(Protocol):
    """Sends a delivery's attempt to the webhook worker, now or after `delay_ms`."""

    def deliver(self, delivery_id: str, delay_ms: int = 0) -> None: ...


def new_secret() -> str:
    return rules.SECRET_PREFIX + b64encode(secrets.token_bytes(rules.SECRET_BYTES)).decode()


async def create(
    url: str, events: list[str], description: str, by: Principal, settings: Settings
) -> Webhook:
    await outbound.check_url(url, settings)
    webhook = Webhook(
        url=url,
        events=list(dict.fromkeys(events)),
        description=description,
        secret=new_secret(),
        created_by=by.name,
    )
    await webhook.insert()
    await audit.record(AuditAction.WEBHOOK_CREATED, by, _target(webhook), _audited(webhook))
    return webhook


def _target(webhook: Webhook) -> Target:
    return Target("webhook", str(webhook.id))


def _audited(webhook: Webhook) -> dict[str, Any]:
    """What the audit trail says of a webhook: never its secret, nor the URL's query (it
    may carry a token)."""
    return {"url": webhook.url.split("?", 1)[0], "events": webhook.events}


async def listed() -> list[Webhook]:
    return await Webhook.find_all().sort("created_at").to_list()


async def get(webhook_id: str) -> Webhook:
    try:
        webhook = await Webhook.get(ObjectId(webhook_id))
    except InvalidId:
        webhook = None
    if webhook is None:
        raise NotFound(f"No webhook with id {webhook_id!r}")
    return webhook


async def delete(webhook_id: str, by: Principal) -> None:
    """The webhook and its delivery log; messages still pending are not sent."""
    webhook = await get(webhook_id)
    await WebhookDelivery.get_pymongo_collection().delete_many({"webhook_id": webhook_id})
    await webhook.delete()
    await audit.record(AuditAction.WEBHOOK_DELETED, by, _target(webhook), _audited(webhook))


def _message_id(*parts: str) -> str:
    return "msg_" + hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def _payload(event: str, data: dict[str, Any]) -> bytes:
    body = {"type": event, "timestamp": utcnow().isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


async def send_test(webhook_id: str, courier: Courier) -> WebhookDelivery:
    """A `webhook.test` message, delivered like any other."""
    webhook = await get(webhook_id)
    data = {"webhookId": webhook_id, "message": "A test message from Bulk Customer Upload"}
    delivery = WebhookDelivery(
        id=_message_id(webhook_id, rules.TEST_EVENT, str(ObjectId())),
        webhook_id=str(webhook.id),
        event=rules.TEST_EVENT,
        payload=_payload(rules.TEST_EVENT, data),
    )
    await delivery.insert()
    courier.deliver(delivery.id)
    return delivery


async def deliveries(webhook_id: str, limit: int, offset: int) -> tuple[list[WebhookDelivery], int]:
    await get(webhook_id)
    query = WebhookDelivery.find(WebhookDelivery.webhook_id == webhook_id)
    total = await query.count()
    found = await query.sort("-created_at").skip(offset).limit(limit).to_list()
    return found, total


def event_of(job: dict[str, Any]) -> str | None:
    """The event an ended job announces, if any."""
    status, kind = job.get("status"), job.get("kind", JobKind.IMPORT)
    if kind == JobKind.REVERT:
        return "import.reverted" if status == JobStatus.COMPLETED else None
    if status == JobStatus.CANCELLED:
        return "import.cancelled" if job.get("report_file_id") is not None else None
    if status == JobStatus.COMPLETED:
        return "import.completed"
    return "import.failed" if status == JobStatus.FAILED else None


async def announce_due(render: Render, courier: Courier) -> list[str]:
    """Make the deliveries of every job whose event is owed; the events announced."""
    jobs = ImportJob.get_pymongo_collection()
    announced = []
    async for job in jobs.find({"announce": True}):
        event = event_of(job)
        if event is not None:
            await _announce(ImportJob.model_validate(job), event, render, courier)
            announced.append(f"{event} {job['_id']}")
        await jobs.update_one({"_id": job["_id"]}, {"$unset": {"announce": ""}})
    return announced


async def _announce(job: ImportJob, event: str, render: Render, courier: Courier) -> None:
    subscribed = await Webhook.find({"events": event}).to_list()
    if not subscribed:
        return
    payload = _payload(event, render(job))
    job_id = str(job.id)
    writes = []
    for webhook in subscribed:
        delivery = WebhookDelivery(
            id=_message_id(str(webhook.id), event, job_id),
            webhook_id=str(webhook.id),
            event=event,
            import_id=job_id,
            payload=payload,
        )
        document = delivery.model_dump(by_alias=True, mode="python")
        writes.append(UpdateOne({"_id": delivery.id}, {"$setOnInsert": document}, upsert=True))
    result = await WebhookDelivery.get_pymongo_collection().bulk_write(writes, ordered=False)
    for delivery_id in (
        result.upserted_ids or {}
    ).values():  # new ones only: the others are under way
        courier.deliver(str(delivery_id))


async def deliver(delivery_id: str, settings: Settings, courier: Courier) -> None:
    """One attempt, if the delivery is due and no other attempt is under way."""
    collection = WebhookDelivery.get_pymongo_collection()
    lease = await leases.take(
        collection,
        {
            "_id": delivery_id,
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": {"$lte": utcnow()},
        },
        "lease_until",
        settings.lease_seconds,
        count_in="attempts",
    )
    if lease is None:
        return  # delivered, given up, not due yet, or an attempt is under way
    async with lease:
        delivery = WebhookDelivery.model_validate(lease.document)
        webhook = await Webhook.get(ObjectId(delivery.webhook_id))
        if webhook is None:  # deleted meanwhile
            await collection.delete_one({"_id": delivery_id})
            return
        status, error = await _attempt(webhook, delivery, settings)
        await _record(delivery, status, error, courier)


async def _attempt(
    webhook: Webhook, delivery: WebhookDelivery, settings: Settings
) -> tuple[int | None, str | None]:
    timestamp = int(utcnow().timestamp())
    headers = rules.signed_headers(webhook.secret, delivery.id, timestamp, delivery.payload)
    try:
        status = await outbound.post(
            webhook.url, delivery.payload, headers, settings, rules.ATTEMPT_TIMEOUT_SECONDS
        )
    except TimeoutError:
        return None, f"no answer within {rules.ATTEMPT_TIMEOUT_SECONDS:.0f} seconds"
    except outbound.Refused as refused:
        return None, f"refused: {refused}"
    except Exception as error:  # the receiver is down, or talks no HTTP
        return None, (f"{type(error).__name__}: {error}")[:LAST_ERROR_CHARS]
    if 200 <= status < 300:
        return status, None
    return status, f"answered HTTP {status}"


async def _record(
    delivery: WebhookDelivery, status: int | None, error: str | None, courier: Courier
) -> None:
    now = utcnow()
    update: dict[str, Any] = {"last_status_code": status, "last_error": error}
    wait = None if error is None else rules.wait_after(delivery.attempts)
    if error is None:
        update |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "next_attempt_at": None}
    elif wait is None:
        update |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        update["next_attempt_at"] = now + wait
    await WebhookDelivery.get_pymongo_collection().update_one(
        {"_id": delivery.id, "status": DeliveryStatus.PENDING}, {"$set": update}
    )
    if wait is not None:
        courier.deliver(delivery.id, int(wait.total_seconds() * 1000))
    outcome = "delivered" if error is None else ("retried" if wait else "failed")
    await metrics.add(metrics.WEBHOOK_DELIVERIES, outcome)
    log.info("webhook delivery %s attempt %d: %s", delivery.id, delivery.attempts, outcome)


async def drive_lost(courier: Courier, held: Collection[str]) -> list[str]:
    """Send again the attempt of each pending delivery whose message the broker does not
    hold (lost with a Redis restart) and that no attempt is working on; its ids."""
    now = utcnow()
    pending = WebhookDelivery.get_pymongo_collection().find(
        {"status": DeliveryStatus.PENDING, **leases.free("lease_until", now)},
        {"next_attempt_at": 1},
    )
    driven = []
    async for delivery in pending:
        if delivery["_id"] in held:
            continue
        due: datetime | None = delivery.get("next_attempt_at")
        delay = 0 if due is None else max(0, int((due - now).total_seconds() * 1000))
        courier.deliver(delivery["_id"], delay)
        driven.append(delivery["_id"])
    await metrics.add(metrics.STEP_RECOVERIES, "webhook_delivery", len(driven))
    return driven
