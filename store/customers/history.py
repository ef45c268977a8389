"""A customer's history (DESIGN.md §8), read from what the imports keep for their undo: the
import that inserted the customer is known from its id (store.customers.ids.id_for_row), each import
that changed it kept its pre-image (store.customers.preimages, `<import id>:<customer id>`), and a
revert noted on that pre-image what it did and the state it overwrote. Imports whose
pre-images retention deleted (REPORT_RETENTION_DAYS) are no longer in it.

The pre-images have no index on the customer (each index costs on every import's write): the
imports that could have written the customer are listed, and their pre-images of it are read
by `_id`, a chunk of imports at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from domain.history import Write, entries
from store.customers import preimages, revert_notes
from store.customers.ids import id_range_of
from store.documents import Customer, ImportJob, JobKind, utcnow
from store.errors import NotFound

CHUNK = 500  # imports whose pre-images are read at once


def _customer_oid(customer_id: str) -> ObjectId:
    try:
        return ObjectId(customer_id)
    except InvalidId:
        raise NotFound(f"No customer with id {customer_id!r}") from None


def _inserted_by(customer: ObjectId, imports: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    for job in imports:
        low, high = id_range_of(job["_id"])
        if low <= customer <= high:
            return job
    return None


async def _imports_kept() -> list[dict[str, Any]]:
    """Real imports that still have their pre-images (retention clears `file_id` when it
    deletes them)."""
    jobs = ImportJob.get_pymongo_collection()
    query = {"kind": {"$ne": JobKind.REVERT}, "dry_run": {"$ne": True}, "file_id": {"$ne": None}}
    fields = {"created_at": 1, "started_at": 1, "action": 1, "revert_id": 1}
    found: list[dict[str, Any]] = await jobs.find(query, fields).to_list()
    return found


async def _preimages_of(customer_id: str, imports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for start in range(0, len(imports), CHUNK):
        ids = [f"{job['_id']}:{customer_id}" for job in imports[start : start + CHUNK]]
        found += await preimages.collection().find({"_id": {"$in": ids}}).to_list()
    return found


async def _reverts(ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    found = ImportJob.get_pymongo_collection().find(
        {"_id": {"$in": [ObjectId(i) for i in ids]}}, {"finished_at": 1, "created_at": 1}
    )
    return {str(doc["_id"]): doc async for doc in found}


def _attributes(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else dict(doc.get("attributes") or {})


async def history(customer_id: str) -> list[dict[str, Any]]:
    """The customer's writes by imports and reverts, newest first, with the fields each
    changed. NotFound when the customer neither exists nor has a history."""
    oid = _customer_oid(customer_id)
    current = await Customer.get_pymongo_collection().find_one({"_id": oid})
    imports = await _imports_kept()
    by_id = {str(job["_id"]): job for job in imports}
    creator = _inserted_by(oid, imports)
    kept = {doc["_id"].split(":", 1)[0]: doc for doc in await _preimages_of(customer_id, imports)}
    creator_id = [str(creator["_id"])] if creator else []
    # Reverts of earlier versions noted on the pre-image itself.
    notes = {i: p for i, p in kept.items() if "revert" in p}
    notes |= await revert_notes.of_customer(customer_id, [*kept, *creator_id])
    reverts = await _reverts([d["revert"]["by"] for d in notes.values()])
    writes = []
    for import_id in {*kept, *creator_id}:
        job, preimage = by_id[import_id], kept.get(import_id, {})
        inserted = import_id in creator_id
        if not inserted and "before" not in preimage:
            continue  # a pre-image left by a write that did not happen
        note = notes.get(import_id, {})
        revert = note.get("revert")
        overwritten = note.get("replaced")
        writes.append(
            Write(
                at=job.get("started_at") or job["created_at"],
                import_id=import_id,
                kind="import",
                action=job["action"],
                outcome="imported" if inserted else "updated",
                before=None if inserted else _attributes(preimage["before"]),
                after=_attributes(overwritten),
                after_known=overwritten is not None,
            )
        )
        if revert and revert["outcome"] in ("restored", "deleted"):
            reverting = reverts.get(revert["by"], {})
            writes.append(
                Write(
                    at=reverting.get("finished_at") or reverting.get("created_at") or utcnow(),
                    import_id=revert["by"],
                    kind="revert",
                    action="revert",
                    outcome=revert["outcome"],
                    before=_attributes(overwritten),
                    after=None if inserted else _attributes(preimage["before"]),
                    after_known=True,
                    revert_of=import_id,
                )
            )
    if current is None and not writes:
        raise NotFound(f"No customer with id {customer_id!r}")
    return entries(writes, _attributes(current))
