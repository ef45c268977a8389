"""`python -m workers.sweeper`: the periodic recovery check. MongoDB is the source of truth,
so imports whose messages were lost (Redis restarted without persistence, a worker killed)
are driven again from it. Hourly, it also deletes the files of imports past the retention
(REPORT_RETENTION_DAYS)."""

from __future__ import annotations

import asyncio
import logging
import time

from config import get_settings
from store import db, jobs
from workers.actors import dispatcher

log = logging.getLogger("workers.sweeper")

RETENTION_CHECK_SECONDS = 3600.0


async def sweep_forever() -> None:
    settings = get_settings()
    await db.connect(settings)
    retention_due = time.monotonic()
    while True:
        try:
            driven = await jobs.redrive_stalled_jobs(dispatcher, settings)
            if driven:
                log.info("drove stalled imports again: %s", ", ".join(driven))
        except Exception:  # keep sweeping: the next round may find the servers back
            log.exception("recovery sweep failed")
        if time.monotonic() >= retention_due:
            try:
                cleaned = await jobs.delete_expired_files(settings)
                if cleaned:
                    log.info("deleted the files of expired imports: %s", ", ".join(cleaned))
                retention_due = time.monotonic() + RETENTION_CHECK_SECONDS
            except Exception:  # tried again next round
                log.exception("retention sweep failed")
        await asyncio.sleep(settings.sweep_interval_seconds)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(sweep_forever())
