"""Leases on a job's steps (a batch, the planning, the report): a worker that takes a step
stores in MongoDB when its hold runs out, renews it while it works and clears it when it
ends. A lease that ran out means its worker died: the recovery check (store.jobs.recovery)
drives the step again at once. A delivery that meets a live lease leaves the step to its
holder."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from store.documents import utcnow

log = logging.getLogger(__name__)
RENEWALS_PER_LEASE = 3  # a lease survives two renewals that come late or fail
RENEWAL_STOP_SECONDS = 1.0


def expiry(seconds: float) -> datetime:
    until = utcnow() + timedelta(seconds=seconds)
    # BSON dates keep milliseconds: the value renewed and released must equal the stored one.
    return until.replace(microsecond=until.microsecond // 1000 * 1000)


def free(field: str, now: datetime) -> dict[str, Any]:
    """The condition that no live lease is held in `field`."""
    return {"$or": [{field: None}, {field: {"$lt": now}}]}


class Lease:
    """A taken lease: `async with` renews it in the background while the work runs and
    releases it afterwards. `document` is the step's document as taken."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        document: dict[str, Any],
        field: str,
        seconds: float,
    ) -> None:
        self.collection = collection
        self.document = document
        self.field = field
        self.seconds = seconds
        self.until: datetime = document[field]
        self._renewing: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lease:
        self._renewing = asyncio.create_task(self._renew_forever())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            # Bounded: the renewal may be inside a driver call that is slow to end, and a
            # finished delivery must not wait on its lease's renewal.
            await asyncio.wait({self._renewing}, timeout=RENEWAL_STOP_SECONDS)
        try:
            await self.release()
        except PyMongoError:  # the database is away: the lease runs out by itself
            log.warning("releasing a lease on %s failed", self.document["_id"], exc_info=True)

    async def _renew_forever(self) -> None:
        this = asyncio.current_task()
        assert this is not None
        while True:
            await asyncio.sleep(self.seconds / RENEWALS_PER_LEASE)
            try:
                renewed = await self.renew()
            except Exception:  # the database is away: try again at the next renewal
                renewed = True
                if not this.cancelling():
                    log.warning(
                        "renewing a lease on %s failed", self.document["_id"], exc_info=True
                    )
            # Told to stop while it renewed, and the cancel never came out: asyncio.wait_for
            # on Python 3.11, inside the driver, can lose it. Renewing on would hold the
            # finished delivery (and its lease) until its time limit.
            if this.cancelling():
                return
            if not renewed:
                return  # taken over after it ran out: the work goes on, harmlessly

    async def renew(self) -> bool:
        until = expiry(self.seconds)
        renewed = await self.collection.update_one(
            {"_id": self.document["_id"], self.field: self.until}, {"$set": {self.field: until}}
        )
        if renewed.matched_count:
            self.until = until
        return bool(renewed.matched_count)

    async def release(self) -> None:
        await self.collection.update_one(
            {"_id": self.document["_id"], self.field: self.until}, {"$set": {self.field: None}}
        )


async def take(
    collection: AsyncCollection[dict[str, Any]],
    condition: dict[str, Any],
    field: str,
    seconds: float,
    count_in: str,
) -> Lease | None:
    """Take the lease in `field` of the document matching `condition` when no live one is
    held, counting the delivery in `count_in`; None when there is no such document or the
    lease is held."""
    document = await collection.find_one_and_update(
        {"$and": [condition, free(field, utcnow())]},
        {"$set": {field: expiry(seconds)}, "$inc": {count_in: 1}},
        return_document=ReturnDocument.AFTER,
    )
    return None if document is None else Lease(collection, document, field, seconds)


async def hold_new(
    collection: AsyncCollection[dict[str, Any]], document_id: Any, seconds: float
) -> Lease:
    """A lease on something that has no document yet (an upload being stored): its lease
    is a document of its own, in `lease_until`."""
    document = {"_id": document_id, "lease_until": expiry(seconds)}
    await collection.insert_one(document)
    return Lease(collection, document, "lease_until", seconds)


class Yielder:
    """Lets the event loop run (lease renewals among it) during a long stretch of CPU work
    that otherwise awaits nothing."""

    INTERVAL_SECONDS = 0.1

    def __init__(self) -> None:
        self.last = time.monotonic()

    async def tick(self) -> None:
        if time.monotonic() - self.last >= self.INTERVAL_SECONDS:
            await asyncio.sleep(0)
            self.last = time.monotonic()
