"""Writer leases: which writers (a batch of an import, a bulk request) are changing
identifier claims right now.

A writer holds a lease while it works and marks itself done when it has finished. Another
writer that meets one of its claims waits while the lease is live; once the writer is done,
or its lease ran out (its process died), the claim is read for what it says (see
store.customers.claims)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from store.documents import Customer, utcnow

COLLECTION = "claim_writers"
_DONE_CACHE_SIZE = 100_000  # done writers never become live again: remember them
_done: OrderedDict[str, None] = OrderedDict()


def new_writer_id() -> str:
    """A writer id for a bulk request. Batch ids ("<job id>-<seq>") are writer ids too;
    both start with an ObjectId, so comparing ids compares ages (older is smaller)."""
    return f"{ObjectId()}-bulk"


def _collection() -> AsyncCollection[dict[str, Any]]:
    # The database Beanie is bound to (also while store.db initialises it).
    return Customer.get_pymongo_collection().database[COLLECTION]


async def hold(writer_id: str, lease_seconds: float) -> None:
    """Take or renew the lease."""
    until = utcnow() + timedelta(seconds=lease_seconds)
    await _collection().update_one(
        {"_id": writer_id}, {"$set": {"lease_until": until, "done": False}}, upsert=True
    )


async def finish(writer_id: str) -> None:
    # When, by the server's clock (as `server_now`): a reader can tell whether the writer
    # had finished before it read the writer's claims (finished_before).
    await _collection().update_one(
        {"_id": writer_id},
        {"$set": {"lease_until": None, "done": True}, "$currentDate": {"finished_at": True}},
        upsert=True,
    )
    _remember_done(writer_id)


async def release(writer_id: str) -> None:
    """End the lease without being done: the writer gives way (and will come back), and
    meanwhile its claims are read for what the customers hold, as a dead writer's are."""
    await _collection().update_one({"_id": writer_id}, {"$set": {"lease_until": None}})


async def live(writer_ids: Iterable[str]) -> set[str]:
    """The writers among `writer_ids` that hold a lease now."""
    unknown = [w for w in set(writer_ids) if w not in _done]
    if not unknown:
        return set()
    now = utcnow()
    found = set()
    async for doc in _collection().find({"_id": {"$in": unknown}}):
        if doc.get("done"):
            _remember_done(doc["_id"])
        elif doc.get("lease_until") is not None and doc["lease_until"] > now:
            found.add(doc["_id"])
    return found


async def finished_before(writer_ids: Iterable[str], when: datetime) -> set[str]:
    """The writers among `writer_ids` that had finished before `when` (server time) and have
    not run again since. Read afresh, never from the cache of done writers: a writer run
    again (a redelivered batch) is done again only once that run has finished."""
    ids = list(set(writer_ids))
    if not ids:
        return set()
    query = {"_id": {"$in": ids}, "done": True, "finished_at": {"$lt": when}}
    return {doc["_id"] async for doc in _collection().find(query, {"_id": 1})}


async def server_now() -> datetime:
    """The database server's clock, the one `finish` records by: comparing the two needs no
    agreement between the clocks of the processes."""
    reply = await _collection().database.command("hello")
    now: datetime = reply["localTime"]
    return now


async def others_live(writer_prefix: str) -> bool:
    """Whether a writer whose id does not start with `writer_prefix` (an import's batches:
    "<job id>-") holds a lease now."""
    async for doc in _collection().find({"lease_until": {"$gt": utcnow()}}, {"_id": 1}):
        if not doc["_id"].startswith(writer_prefix):
            return True
    return False


async def create_indexes() -> None:
    """Live writers are found by their lease (others_live)."""
    await _collection().create_index([("lease_until", ASCENDING)])


async def forget(writer_ids: Iterable[str]) -> None:
    """Retention: the leases of finished jobs' batches are no longer needed."""
    ids = list(writer_ids)
    if ids:
        await _collection().delete_many({"_id": {"$in": ids}, "done": True})


def _remember_done(writer_id: str) -> None:
    _done[writer_id] = None
    if len(_done) > _DONE_CACHE_SIZE:
        _done.popitem(last=False)
