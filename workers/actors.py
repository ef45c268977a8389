"""The import pipeline's actors: plan → one message per batch → finalise, and a schedule's
run (which makes an import). Ids only.
Retries follow the one retry policy, store.retry."""

from __future__ import annotations

from typing import Any

import dramatiq

from config import Settings, get_settings
from store import db, jobs, retry, schedules
from store.jobs import policy
from store.jobs.steps import BATCH, COMPLETION, PLANNING, REVERT
from workers.broker import broker
from workers.queues import AFTER_OTHERS, BATCHES, FIRST, SMALL_BATCHES, STEPS

ACTOR_OPTIONS: dict[str, Any] = {
    "broker": broker,  # the one with the AsyncIO middleware
    "retry_when": retry.retry_when,
    "min_backoff": retry.MIN_BACKOFF_MS,
    "max_backoff": retry.MAX_BACKOFF_MS,
}


async def _connected() -> Settings:
    """The settings, with the worker process connected as WORKER_DATABASE_COMMANDS says."""
    settings = get_settings()
    await db.connect(settings, settings.worker_database_commands)
    return settings


class DramatiqDispatcher:
    def plan(self, job_id: str) -> None:
        plan_import.send(job_id)

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        (process_small_batch if small_import else process_batch).send(batch_id)

    def finalize(self, job_id: str) -> None:
        finalize_import.send(job_id)

    def revert(self, revert_id: str) -> None:
        revert_import.send(revert_id)


dispatcher = DramatiqDispatcher()


@dramatiq.actor(
    actor_name=PLANNING.actor,
    queue_name=STEPS,
    priority=FIRST,
    time_limit=policy.STEP_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)
async def plan_import(job_id: str) -> None:
    settings = await _connected()
    await jobs.plan_job(job_id, dispatcher, settings)


async def _process_batch(batch_id: str) -> None:
    settings = await _connected()
    await jobs.process_batch(batch_id, dispatcher, settings)


# One step, two actors: the same work from two queues, the small imports' run first.
process_batch = dramatiq.actor(
    actor_name=BATCH.actor,
    queue_name=BATCHES,
    priority=AFTER_OTHERS,
    time_limit=policy.BATCH_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)(_process_batch)
process_small_batch = dramatiq.actor(
    actor_name=BATCH.small_import_actor,
    queue_name=SMALL_BATCHES,
    priority=FIRST,
    time_limit=policy.BATCH_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)(_process_batch)


@dramatiq.actor(
    actor_name=COMPLETION.actor,
    queue_name=STEPS,
    priority=FIRST,
    time_limit=policy.STEP_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)
async def finalize_import(job_id: str) -> None:
    settings = await _connected()
    await jobs.finalize_job(job_id, settings)


@dramatiq.actor(
    actor_name=REVERT.actor,
    queue_name=STEPS,
    priority=FIRST,
    time_limit=policy.REVERT_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)
async def revert_import(revert_id: str) -> None:
    settings = await _connected()
    await jobs.run_revert(revert_id, settings)


@dramatiq.actor(
    actor_name="run_schedule",
    queue_name=STEPS,
    priority=FIRST,
    time_limit=policy.STEP_TIME_LIMIT_MS,
    **ACTOR_OPTIONS,
)
async def run_schedule(run_id: str) -> None:
    """A schedule's run (store.schedules.runs): fetch its source, import it or skip."""
    settings = await _connected()
    await schedules.perform_run(run_id, dispatcher, settings)
