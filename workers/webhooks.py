"""The webhook worker: `python -m dramatiq workers.webhooks` (its own process, started by
`make run` and compose) runs the attempts of webhook deliveries (store.webhooks) from their
own queue. The import workers (workers.actors) never load this module, so they never take
these messages: a receiver that hangs holds up only this process's threads."""

from __future__ import annotations

import dramatiq

from config import get_settings
from store import db, webhooks
from workers.broker import broker

WEBHOOK_QUEUE = "webhooks"
ATTEMPT_TIME_LIMIT_MS = 60_000  # an attempt takes at most 10 s (domain.webhooks)


class DramatiqCourier:
    def deliver(self, delivery_id: str, delay_ms: int = 0) -> None:
        deliver_webhook.send_with_options(args=(delivery_id,), delay=delay_ms or None)


courier = DramatiqCourier()


@dramatiq.actor(
    actor_name="deliver_webhook",
    queue_name=WEBHOOK_QUEUE,
    time_limit=ATTEMPT_TIME_LIMIT_MS,
    max_retries=3,  # the database away: the recovery check sends it again later anyway
    broker=broker,
)
async def deliver_webhook(delivery_id: str) -> None:
    settings = get_settings()
    await db.connect(settings)
    await webhooks.deliver(delivery_id, settings, courier)
