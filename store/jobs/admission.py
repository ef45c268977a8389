"""Admitting work of one API key: the count of its unfinished imports and the creation of
a new one as one step, and its mapping previews running at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from config import Settings
from store import db
from store.documents import ImportJob, utcnow
from store.errors import TooManyRequests
from store.jobs import leases
from store.jobs.states import UNFINISHED

RUNNING_IMPORTS_RETRY_SECONDS = 30  # imports take seconds to minutes: no use asking sooner
ADMISSION_LEASE_SECONDS = 10.0  # a process that died holding a key's admission frees it then
ADMISSION_WAIT_SECONDS = 5.0


def _admissions() -> AsyncCollection[dict[str, Any]]:
    """One document per API key whose new import is being admitted, with its lease."""
    return db.database()["import_admissions"]


@asynccontextmanager
async def admitted(created_by: str, settings: Settings) -> AsyncIterator[None]:
    """The count of a key's unfinished imports and the insert of its new one, as one step:
    requests of one key that arrive together are admitted one at a time (a lease per key in
    MongoDB, shared by every API process), so no more than MAX_RUNNING_IMPORTS_PER_KEY get
    in. The body inserts the job."""
    admissions = _admissions()
    waited_until = time.monotonic() + ADMISSION_WAIT_SECONDS
    while True:
        until = leases.expiry(ADMISSION_LEASE_SECONDS)
        try:
            await admissions.find_one_and_update(
                {"_id": created_by, **leases.free("lease_until", utcnow())},
                {"$set": {"lease_until": until}},
                upsert=True,
            )
            break
        except DuplicateKeyError:  # another request of the key is being admitted
            if time.monotonic() > waited_until:
                raise TooManyRequests(
                    "Other imports of this API key are being started; retry in a moment.",
                    retry_after=1,
                ) from None
            await asyncio.sleep(0.02)
    try:
        await check_running_imports(created_by, settings)
        yield
    finally:
        await admissions.delete_one({"_id": created_by, "lease_until": until})


async def check_running_imports(created_by: str, settings: Settings) -> None:
    """A key with its share of imports pending or running waits (checked before any of the
    file is read, and again in `admitted`)."""
    running = await ImportJob.find(
        {"created_by": created_by, "status": {"$in": list(UNFINISHED)}}
    ).count()
    if running >= settings.max_running_imports_per_key:
        raise TooManyRequests(
            f"This API key has {running} imports pending or running; at most "
            f"{settings.max_running_imports_per_key} at a time. Retry when one has finished.",
            retry_after=RUNNING_IMPORTS_RETRY_SECONDS,
        )


previews_running: Counter[str] = Counter()  # per API key, in this process


@contextmanager
def preview_slot(created_by: str, settings: Settings) -> Iterator[None]:
    """Reading a file for a preview costs CPU in a worker thread: a key may have
    MAX_MAPPING_PREVIEWS_PER_KEY of them running in one API process; 429 beyond."""
    if previews_running[created_by] >= settings.max_mapping_previews_per_key:
        raise TooManyRequests(
            f"This API key has {previews_running[created_by]} mapping previews running; at "
            f"most {settings.max_mapping_previews_per_key} at a time. Retry when one has "
            "finished.",
            retry_after=1,
        )
    previews_running[created_by] += 1
    try:
        yield
    finally:
        previews_running[created_by] -= 1
        if not previews_running[created_by]:
            del previews_running[created_by]
