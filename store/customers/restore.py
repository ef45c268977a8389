"""Writing a revert (store.jobs.revert): customers an import changed go back to their
pre-images, customers it inserted are deleted, and their identifier claims follow. Every
write is conditional on the customer being exactly as the import left it (domain.reverting),
so a customer changed meanwhile is never overwritten, and running a chunk again finds its
own earlier writes done.

Claims keep the rule of store.customers.claims: a value a customer gets back is claimed for
it before the customer is written (by the revert's writer, under its lease), and a value it
gives up is released after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import DeleteOne, ReplaceOne

from domain.resolution import IdentifierValue, identifier_values
from domain.reverting import Judgement, Verdict, judge_changed, judge_inserted, value_taken
from store.customers import claims
from store.customers.ids import by_id, id_range_of, in_chunks, insert_new
from store.documents import Customer

CHANGED_DURING = "Changed during the revert; kept as it is"


@dataclass(frozen=True)
class Reverted:
    customer_id: str
    outcome: str  # restored | deleted | conflict
    reason: str | None = None
    # The customer as this revert found and overwrote it: the import's write (its history).
    replaced: dict[str, Any] | None = None


@dataclass(frozen=True)
class RevertWriter:
    import_id: str
    writer: str  # the revert's writer id (store.customers.writers), on the claims it takes
    identifier_keys: Sequence[str]
    lookup_chunk_size: int


async def _current(ids: Sequence[str], chunk_size: int) -> dict[str, dict[str, Any]]:
    oids = [ObjectId(i) for i in ids]
    found = await by_id(Customer.get_pymongo_collection(), oids, chunk_size)
    return {str(doc["_id"]): doc for doc in found}


def _values(doc: dict[str, Any] | None, keys: Sequence[str]) -> set[IdentifierValue]:
    return identifier_values((doc or {}).get("attributes") or {}, keys)


async def restore_changed(
    writer: RevertWriter, preimages: Sequence[dict[str, Any]]
) -> list[Reverted]:
    """Put customers back to their pre-images (store.customers.preimages documents with
    `before`)."""
    ids = [p["customer_id"] for p in preimages]
    current = await _current(ids, writer.lookup_chunk_size)
    results: dict[str, Reverted] = {}
    wanted: dict[str, dict[str, Any]] = {}
    for preimage in preimages:
        cid, before = preimage["customer_id"], preimage["before"]
        judged = judge_changed(current.get(cid), before, preimage["written_rev"], writer.import_id)
        if judged.verdict is Verdict.RESTORE:
            wanted[cid] = preimage
        else:
            results[cid] = _result(cid, judged)
    taken = await _take_back_values(writer, wanted, current, results)
    replaces = [
        ReplaceOne(
            {"_id": ObjectId(cid), "rev": p["written_rev"], "written_by": writer.import_id},
            p["before"],
        )
        for cid, p in wanted.items()
    ]
    if replaces:
        written = await Customer.get_pymongo_collection().bulk_write(replaces, ordered=False)
        if written.matched_count < len(replaces):  # some changed since they were read
            now = await _current(list(wanted), writer.lookup_chunk_size)
            for cid, preimage in list(wanted.items()):
                if now.get(cid) != preimage["before"]:
                    results[cid] = Reverted(cid, "conflict", CHANGED_DURING)
                    del wanted[cid]
    await _release_taken(writer, taken, set(results))
    released = [
        DeleteOne({"_id": claims.claim_id(ident), "c": cid, "n": {"$exists": False}})
        for cid, preimage in wanted.items()
        for ident in _values(current[cid], writer.identifier_keys)
        - _values(preimage["before"], writer.identifier_keys)
    ]
    if released:
        await claims.collection().bulk_write(released, ordered=False)
    for cid in wanted:
        results[cid] = Reverted(cid, "restored", replaced=current[cid])
    return [results[cid] for cid in ids]


async def _take_back_values(
    writer: RevertWriter,
    wanted: dict[str, dict[str, Any]],
    current: dict[str, dict[str, Any]],
    results: dict[str, Reverted],
) -> dict[str, list[str]]:
    """Claim, for each customer in `wanted`, the identifier values its pre-image holds and it
    no longer does. A customer whose value someone else holds now leaves `wanted` as a
    conflict. Returns the claims inserted, by customer."""
    keys = writer.identifier_keys
    back = {
        ident: cid
        for cid, preimage in wanted.items()
        for ident in _values(preimage["before"], keys) - _values(current[cid], keys)
    }
    found = await claims.read(back, writer.lookup_chunk_size)
    unclaimed = []
    for ident, cid in sorted(back.items(), key=lambda item: claims.claim_id(item[0])):
        claim = found.get(ident)
        if claim is None:
            unclaimed.append(ident)
        elif cid not in claim.candidates and cid in wanted:
            results[cid] = Reverted(cid, "conflict", value_taken(*ident, claim.holder))
            del wanted[cid]
    unclaimed = [ident for ident in unclaimed if back[ident] in wanted]
    refused = await _insert_claims(writer, [(ident, back[ident]) for ident in unclaimed])
    # Refused: taken meanwhile, by another writer or by another delivery of this revert.
    again = await claims.read(refused, writer.lookup_chunk_size)
    for ident in refused:
        claim, cid = again.get(ident), back[ident]
        if (claim is None or cid not in claim.candidates) and cid in wanted:
            holder = claim.holder if claim else None
            results[cid] = Reverted(cid, "conflict", value_taken(*ident, holder))
            del wanted[cid]
    taken: dict[str, list[str]] = {}
    for ident in unclaimed:
        if ident not in refused:
            taken.setdefault(back[ident], []).append(claims.claim_id(ident))
    return taken


async def _insert_claims(
    writer: RevertWriter, wanted: list[tuple[IdentifierValue, str]]
) -> set[IdentifierValue]:
    """Insert claims naming the given customers; returns the values whose claim existed."""
    docs = [{"_id": claims.claim_id(ident), "c": cid, "w": writer.writer} for ident, cid in wanted]
    return {wanted[i][0] for i in await insert_new(claims.collection(), docs)}


async def _release_taken(
    writer: RevertWriter, taken: dict[str, list[str]], not_restored: set[str]
) -> None:
    """Give up the claims taken for customers that could not be restored after all."""
    undo = [
        DeleteOne({"_id": claim, "c": cid, "w": writer.writer})
        for cid, ids in taken.items()
        if cid in not_restored
        for claim in ids
    ]
    if undo:
        await claims.collection().bulk_write(undo, ordered=False)


async def count_inserted(import_id: str) -> int:
    low, high = id_range_of(ObjectId(import_id))
    return await Customer.get_pymongo_collection().count_documents(
        {"_id": {"$gte": low, "$lte": high}}
    )


def inserted_by(
    import_id: str, chunk_size: int, fetch_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The customers the import inserted (store.customers.ids.id_range_of) that still exist."""
    low, high = id_range_of(ObjectId(import_id))
    query = {"_id": {"$gte": low, "$lte": high}}
    return in_chunks(Customer.get_pymongo_collection(), query, chunk_size, fetch_size)


async def deletable(
    writer: RevertWriter, docs: Sequence[dict[str, Any]], written_revs: dict[str, int]
) -> tuple[list[dict[str, Any]], list[Reverted]]:
    """Of customers the import inserted, those to delete, and the conflicts."""
    to_delete, conflicts = [], []
    for doc in docs:
        cid = str(doc["_id"])
        judged = judge_inserted(doc, written_revs.get(cid, 1), writer.import_id)
        if judged.verdict is Verdict.DELETE:
            to_delete.append(doc)
        else:
            conflicts.append(_result(cid, judged))
    return to_delete, conflicts


async def delete_inserted(writer: RevertWriter, docs: Sequence[dict[str, Any]]) -> list[Reverted]:
    """Delete customers the import inserted (found `deletable`), then release their values.
    Returns the ones changed meanwhile, as conflicts."""
    if not docs:
        return []
    collection = Customer.get_pymongo_collection()
    deletes = [
        DeleteOne({"_id": doc["_id"], "rev": doc["rev"], "written_by": writer.import_id})
        for doc in docs
    ]
    result = await collection.bulk_write(deletes, ordered=False)
    survivors: set[str] = set()
    if result.deleted_count < len(deletes):
        survivors = set(await _current([str(doc["_id"]) for doc in docs], writer.lookup_chunk_size))
    released = [
        DeleteOne({"_id": claims.claim_id(ident), "c": str(doc["_id"]), "n": {"$exists": False}})
        for doc in docs
        if str(doc["_id"]) not in survivors
        for ident in _values(doc, writer.identifier_keys)
    ]
    if released:
        await claims.collection().bulk_write(released, ordered=False)
    return [Reverted(cid, "conflict", CHANGED_DURING) for cid in sorted(survivors)]


def _result(cid: str, judged: Judgement) -> Reverted:
    outcome = "restored" if judged.verdict is Verdict.RESTORED else "conflict"
    return Reverted(cid, outcome, judged.reason)
