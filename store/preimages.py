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

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from store.documents import Customer

COLLECTION = "import_preimages"
DUPLICATE_KEY = 11000


def collection() -> AsyncCollection[dict[str, Any]]:
    # The database Beanie is bound to.
    return Customer.get_pymongo_collection().database[COLLECTION]


def _of_import(import_id: str) -> dict[str, Any]:
    # ";" follows ":" in ASCII: every "<import id>:..." and nothing else.
    return {"_id": {"$gte": f"{import_id}:", "$lt": f"{import_id};"}}


async def record(import_id: str, customers: Sequence[dict[str, Any]]) -> None:
    """Keep the pre-images of `customers` (whole documents as read), which the import is about
    to update conditionally on their `rev`."""
    writes = []
    for doc in customers:
        written_rev = doc.get("rev", 0) + 1
        fields: dict[str, Any] = {"customer_id": str(doc["_id"]), "written_rev": written_rev}
        if doc.get("written_by") != import_id:
            fields["before"] = doc  # the state before this import; else keep the first one
        writes.append(
            UpdateOne({"_id": f"{import_id}:{doc['_id']}"}, {"$set": fields}, upsert=True)
        )
    try:
        await collection().bulk_write(writes, ordered=False)
    except BulkWriteError as error:
        # Two batches of the import upserting the same customer's at once: one insert loses
        # the race, and its update now finds the document.
        errors = error.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            raise
        await collection().bulk_write([writes[e["index"]] for e in errors], ordered=False)


async def states_before(import_id: str, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored pre-images (`before` documents) of these customers, by customer id."""
    ids = [f"{import_id}:{cid}" for cid in customer_ids]
    found = collection().find({"_id": {"$in": ids}, "before": {"$exists": True}})
    return {doc["customer_id"]: doc["before"] async for doc in found}


async def of_import(import_id: str, chunk_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The import's pre-images in `_id` order, `chunk_size` at a time."""
    last = f"{import_id}:"
    while True:
        query = {"_id": {"$gt": last, "$lt": f"{import_id};"}}
        chunk = await collection().find(query).sort("_id", 1).limit(chunk_size).to_list()
        if not chunk:
            return
        yield chunk
        last = chunk[-1]["_id"]


async def mark(
    import_id: str,
    revert_id: str,
    outcomes: Sequence[tuple[str, str, str | None]],
    replaced: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Note what the revert did with each customer: (customer id, restored | deleted |
    conflict, reason), and the document it overwrote or deleted (`replaced`, by customer id:
    the import's write, for the customer's history). A customer the import inserted gets its
    document here."""
    writes = [
        UpdateOne(
            {"_id": f"{import_id}:{cid}"},
            {
                "$set": {
                    "customer_id": cid,
                    "revert": {"by": revert_id, "outcome": outcome, "reason": reason},
                    **({"replaced": replaced[cid]} if replaced and cid in replaced else {}),
                }
            },
            upsert=True,
        )
        for cid, outcome, reason in outcomes
    ]
    if writes:
        await collection().bulk_write(writes, ordered=False)


async def count_reverted(import_id: str, revert_id: str, outcome: str) -> int:
    query = _of_import(import_id) | {"revert.by": revert_id, "revert.outcome": outcome}
    return await collection().count_documents(query)


async def conflicts(import_id: str, revert_id: str) -> AsyncIterator[dict[str, Any]]:
    query = _of_import(import_id) | {"revert.by": revert_id, "revert.outcome": "conflict"}
    async for doc in collection().find(query, {"customer_id": 1, "revert": 1}).sort("_id", 1):
        yield doc


async def count(import_id: str) -> int:
    return await collection().count_documents(_of_import(import_id))


async def forget(import_id: str) -> None:
    """Retention: the import can no longer be reverted."""
    await collection().delete_many(_of_import(import_id))
