"""`python -m workers.sweeper`: the periodic recovery check. MongoDB is the source of truth,
so imports whose messages were lost (Redis restarted without persistence, a worker killed)
are driven again from it."""

from __future__ import annotations

import asyncio
import logging

from config import get_settings
from store import db, imports
from workers.actors import dispatcher

log = logging.getLogger("workers.sweeper")


async def sweep_forever() -> None:
    settings = get_settings()
    await db.connect(settings)
    while True:
        try:
            driven = await imports.redrive_stalled_jobs(dispatcher, settings)
            if driven:
                log.info("drove stalled imports again: %s", ", ".join(driven))
        except Exception:  # keep sweeping: the next round may find the servers back
            log.exception("recovery sweep failed")
        await asyncio.sleep(settings.sweep_interval_seconds)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(sweep_forever())
