"""The recovery process (`python -m wiring.sweeper` starts it): the recovery check
(store.jobs.recovery) every RECOVERY_CHECK_SECONDS: steps whose worker died (their lease ran
out) and steps whose message Redis lost are driven again from MongoDB, and uploads whose API
process died midway are deleted. The same round fires the schedules that are due
(store.schedules) and sends again the schedule runs and webhook deliveries whose message was
lost. Every WEBHOOK_ANNOUNCE_SECONDS, apart from the rounds, it announces the webhook events of
jobs that ended (store.webhooks). Hourly, it also deletes the files of imports past the
retention (REPORT_RETENTION_DAYS), forgotten Idempotency-Keys and audit events past
AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import logging
import time

from config import Settings, get_settings
from store import audit, db, idempotency, jobs, schedules, webhooks
from store.jobs import policy
from workers.actors import dispatcher, run_schedule
from workers.backlog import RedisBacklog
from workers.webhooks import courier

log = logging.getLogger("workers.sweeper")

RETENTION_CHECK_SECONDS = 3600.0


async def recover(backlog: RedisBacklog) -> None:
    for step in await jobs.drive_unfinished(dispatcher, backlog):
        log.info("drove again: %s", step)
    for file_id in await jobs.delete_abandoned_uploads():
        log.info("deleted the abandoned upload %s", file_id)
    for run in await schedules.fire_due(run_schedule.send):
        log.info("schedule run due: %s", run)
    held = backlog.queued()
    for delivery in await webhooks.drive_lost(courier, held.deliveries):
        log.info("sent again the lost webhook delivery %s", delivery)
    for run in await schedules.drive_lost_runs(run_schedule.send, held.runs):
        log.info("sent again the lost schedule run %s", run)


async def announce_forever(render: webhooks.Render, interval: float) -> None:
    """Webhook events of ended jobs, every `interval` seconds: at the recovery check's pace a
    receiver heard of an import's end 3-4 s after it (bench.automation)."""
    while True:
        try:
            announced = await asyncio.wait_for(
                webhooks.announce_due(render, courier), policy.RECOVERY_ROUND_LIMIT_SECONDS
            )
            for event in announced:
                log.info("announced %s", event)
        except Exception:  # the next round announces what this one could not
            log.exception("announcing webhook events failed")
        await asyncio.sleep(interval)


async def sweep_forever(render: webhooks.Render) -> None:
    """Run the checks until cancelled; webhook events carry `render(job)` as their data."""
    settings = get_settings()
    assert settings.redis_url is not None  # workers.broker refuses to start without it
    await db.connect(settings)
    backlog = RedisBacklog(settings.redis_url, settings.lease_seconds)
    announcer = asyncio.create_task(announce_forever(render, settings.webhook_announce_seconds))
    try:
        await _check_forever(settings, backlog)
    finally:
        announcer.cancel()


async def _check_forever(settings: Settings, backlog: RedisBacklog) -> None:
    retention_due = time.monotonic()
    while True:
        try:
            # A round stuck on a request that never returns (seen once after a database
            # restart) is cancelled: the next round starts on fresh connections.
            await asyncio.wait_for(recover(backlog), policy.RECOVERY_ROUND_LIMIT_SECONDS)
        except Exception:  # keep checking: the next round may find the servers back
            log.exception("recovery check failed")
        if time.monotonic() >= retention_due:
            try:
                cleaned = await jobs.delete_expired_files(settings)
                if cleaned:
                    log.info("deleted the files of expired imports: %s", ", ".join(cleaned))
                await idempotency.delete_expired()
                await audit.delete_expired(settings.audit_retention_days)
                retention_due = time.monotonic() + RETENTION_CHECK_SECONDS
            except Exception:  # tried again next round
                log.exception("retention sweep failed")
        await asyncio.sleep(settings.recovery_check_seconds)
