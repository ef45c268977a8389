"""What a revert (store.jobs.revert) did with each customer its import wrote: restored,
deleted or left as a conflict (with the reason), and the document it overwrote or deleted
(the import's write, for the customer's history, store.customers.history).

One document per (import, customer), `_id` "<import id>:<customer id>" as the import's
pre-images (store.customers.preimages), in a collection of its own: noting is an insert, which
on the embedded server costs a fraction of rewriting the pre-image with the note in it (a
revert of 20,000 customers spent about a third of its server time on those rewrites). A
revert that runs again notes again; the latest note counts. Kept, and forgotten, with the
import's pre-images."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from store.customers.ids import insert_new, keyed_by_import
from store.documents import Customer

COLLECTION = "import_revert_notes"


def collection() -> AsyncCollection[dict[str, Any]]:
    # The database Beanie is bound to.
    return Customer.get_pymongo_collection().database[COLLECTION]


async def note(
    import_id: str,
    revert_id: str,
    outcomes: Sequence[tuple[str, str, str | None]],
    replaced: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Note (customer id, restored | deleted | conflict, reason) for each customer, with the
    document the revert overwrote or deleted (`replaced`, by customer id)."""
    docs = []
    for cid, outcome, reason in outcomes:
        doc: dict[str, Any] = {
            "_id": f"{import_id}:{cid}",
            "customer_id": cid,
            "revert": {"by": revert_id, "outcome": outcome, "reason": reason},
        }
        if replaced and cid in replaced:
            doc["replaced"] = replaced[cid]
        docs.append(doc)
    # Existing: noted by an earlier run of the revert; the latest counts.
    again = [
        ReplaceOne({"_id": docs[i]["_id"]}, docs[i]) for i in await insert_new(collection(), docs)
    ]
    if again:
        await collection().bulk_write(again, ordered=False)


async def counts(import_id: str, revert_id: str) -> dict[str, int]:
    """The customers this revert noted, by outcome: one pass over the notes."""
    by_outcome = [
        {"$match": keyed_by_import(import_id) | {"revert.by": revert_id}},
        {"$group": {"_id": "$revert.outcome", "n": {"$sum": 1}}},
    ]
    found = await collection().aggregate(by_outcome)
    return {doc["_id"]: doc["n"] async for doc in found}


async def conflicts(import_id: str, revert_id: str) -> AsyncIterator[dict[str, Any]]:
    query = keyed_by_import(import_id) | {"revert.by": revert_id, "revert.outcome": "conflict"}
    async for doc in collection().find(query, {"customer_id": 1, "revert": 1}).sort("_id", 1):
        yield doc


async def of_customer(customer_id: str, import_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The notes on this customer of the reverts of these imports, by import id."""
    ids = [f"{import_id}:{customer_id}" for import_id in import_ids]
    found = collection().find({"_id": {"$in": ids}})
    return {doc["_id"].split(":", 1)[0]: doc async for doc in found}


async def forget(import_id: str) -> None:
    await collection().delete_many(keyed_by_import(import_id))
