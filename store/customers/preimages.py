"""Pre-images: what each customer an import changed looked like just before the import first
touched it, kept per import so that the import can be reverted (store.jobs.revert).

One document per (import, customer), `_id` "<import id>:<customer id>", written before the
customer is updated: `before` is the customer's whole document as read, `written_rev` the
`rev` the import's update gives it. A customer whose last writer (`written_by`) is this import
already keeps the pre-image stored the first time: a batch that runs again, or a second batch
of the same import reaching the same customer, reads the import's own write, which is no
pre-image. A customer without `before` was inserted by the import itself.

No secondary index (each costs on every write): an import's pre-images are the `_id` range
that starts with its id. Kept as long as the import's report (REPORT_RETENTION_DAYS)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from store.customers.ids import in_chunks, insert_new, keyed_by_import
from store.documents import Customer

COLLECTION = "import_preimages"


def collection() -> AsyncCollection[dict[str, Any]]:
    # The database Beanie is bound to.
    return Customer.get_pymongo_collection().database[COLLECTION]


async def record(import_id: str, customers: Sequence[dict[str, Any]]) -> None:
    """Keep the pre-images of `customers` (whole documents as read), which the import is about
    to update conditionally on their `rev`.

    A customer the import has not written yet gets its pre-image by an insert (on the
    embedded server an insert costs a fraction of an update or upsert). One it has written
    already (a batch that runs again), or whose pre-image an earlier run stored before dying,
    updates the stored one's `written_rev` and keeps its first `before`."""
    fresh: list[dict[str, Any]] = []
    again: list[UpdateOne] = []
    for doc in customers:
        fields: dict[str, Any] = {
            "customer_id": str(doc["_id"]),
            "written_rev": doc.get("rev", 0) + 1,
        }
        _id = f"{import_id}:{doc['_id']}"
        if doc.get("written_by") == import_id:  # no `before`: maybe one the import inserted
            again.append(UpdateOne({"_id": _id}, {"$set": fields}, upsert=True))
        else:
            fresh.append({"_id": _id, **fields, "before": doc})
    # Existing: stored by an earlier run that died before writing the customer (so `before`
    # is the same), or by another batch of the import at the same moment.
    for index in await insert_new(collection(), fresh):
        stored = dict(fresh[index])
        again.append(UpdateOne({"_id": stored.pop("_id")}, {"$set": stored}))
    if again:
        await collection().bulk_write(again, ordered=False)


async def states_before(import_id: str, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored pre-images (`before` documents) of these customers, by customer id."""
    ids = [f"{import_id}:{cid}" for cid in customer_ids]
    found = collection().find({"_id": {"$in": ids}, "before": {"$exists": True}})
    return {doc["customer_id"]: doc["before"] async for doc in found}


def of_import(
    import_id: str, chunk_size: int, fetch_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The import's pre-images, `chunk_size` at a time."""
    return in_chunks(collection(), keyed_by_import(import_id), chunk_size, fetch_size)


async def count(import_id: str) -> int:
    return await collection().count_documents(keyed_by_import(import_id))


async def forget(import_id: str) -> None:
    """Retention: the import can no longer be reverted."""
    await collection().delete_many(keyed_by_import(import_id))
