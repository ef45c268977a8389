"""The import pipeline's actors: plan → one message per batch → finalise. Ids only."""

from __future__ import annotations

import dramatiq

from config import get_settings
from store import db, imports
from workers.broker import QUEUE

# Dramatiq's own retries cover crashes and transient errors; the services count every step's
# deliveries in MongoDB and end a batch or the job failed after the limit, so a job always
# ends, even when a delivery kills its worker each time.
MAX_RETRIES = imports.MAX_BATCH_ATTEMPTS
MIN_BACKOFF_MS = 500
MAX_BACKOFF_MS = 10_000


class DramatiqDispatcher:
    def plan(self, job_id: str) -> None:
        plan_import.send(job_id)

    def process_batch(self, batch_id: str) -> None:
        process_batch.send(batch_id)

    def finalize(self, job_id: str) -> None:
        finalize_import.send(job_id)


dispatcher = DramatiqDispatcher()


@dramatiq.actor(
    actor_name="plan_import",
    queue_name=QUEUE,
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
async def plan_import(job_id: str) -> None:
    settings = get_settings()
    await db.connect(settings)
    await imports.plan_job(job_id, dispatcher, settings)


@dramatiq.actor(
    actor_name="process_batch",
    queue_name=QUEUE,
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
async def process_batch(batch_id: str) -> None:
    settings = get_settings()
    await db.connect(settings)
    await imports.process_batch(batch_id, dispatcher, settings)


@dramatiq.actor(
    actor_name="finalize_import",
    queue_name=QUEUE,
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
async def finalize_import(job_id: str) -> None:
    settings = get_settings()
    await db.connect(settings)
    await imports.finalize_job(job_id, settings)
