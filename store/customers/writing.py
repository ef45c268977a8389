"""The write phase of a commit (store.customers.commit), in this order: take the claims of
the values that change hands (store.customers.claims), keep the pre-images of the customers
an import changes (store.customers.preimages), write the customers, then settle the claims.
A write that finds another writer got in first raises ResolveAgain: the commit reads and
resolves again."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Any

from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from domain.resolution import BatchResolution, CustomerState, IdentifierValue, identifier_values
from store.customers import claims, preimages
from store.customers.ids import DUPLICATE_KEY, customer_oid, insert_new
from store.customers.reading import Snapshot
from store.customers.request import Commit
from store.documents import Customer, utcnow

log = logging.getLogger(__name__)


class ResolveAgain(Exception):
    """Resolve again: another writer got in first."""

    def __init__(self, message: str, taken: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.taken = taken  # claims this writer inserted all the same


def _holders_after(
    read: Snapshot, resolution: BatchResolution, identifier_keys: Sequence[str]
) -> dict[IdentifierValue, str]:
    rewritten = {c.id for c in resolution.updates} | set(read.own)
    holders = {ident: cid for ident, cid in read.holders.items() if cid not in rewritten}
    for customer in [*resolution.updates, *resolution.inserts]:
        for ident in identifier_values(customer.attributes, identifier_keys):
            holders[ident] = customer.id
    return holders


def _moves(
    read: Snapshot, resolution: BatchResolution, identifier_keys: Sequence[str]
) -> tuple[dict[IdentifierValue, str], set[IdentifierValue]]:
    """Who holds each value once the writer is done, and the values whose holder changes."""
    after = _holders_after(read, resolution, identifier_keys)
    moving = {i for i in set(read.holders) | set(after) if read.holders.get(i) != after.get(i)}
    return after, moving


async def write(
    request: Commit,
    read: Snapshot,
    resolution: BatchResolution,
    wanted: set[IdentifierValue],
    identifier_keys: Sequence[str],
) -> None:
    # The claim planning runs off the event loop (thousands of values): the other writers'
    # commands go out meanwhile.
    after, moving = await asyncio.to_thread(_moves, read, resolution, identifier_keys)
    unread = moving - set(read.claims) - wanted
    known = {**read.claims, **(await claims.read(unread, request.lookup_chunk_size))}
    plan = await asyncio.to_thread(
        functools.partial(
            claims.plan_writes,
            request.writer,
            wanted | moving,
            known,
            read.holders,
            after,
            probe=not read.claims,
        )
    )
    if plan.inserts or plan.updates:
        await _claim(plan)
    now = utcnow()
    customers = Customer.get_pymongo_collection()
    origin = request.import_id or request.writer
    # The whole document, as read and changed: on the embedded server a replace by `_id`
    # costs about half an update with operators.
    updates = [
        ReplaceOne(
            {"_id": customer_oid(c.id), "rev": c.rev},
            read.stored[c.id]
            | {"attributes": c.attributes, "updated_at": now, "written_by": origin}
            | {"rev": (c.rev or 0) + 1},
        )
        for c in resolution.updates
    ]
    if updates and request.import_id is not None:
        # Before the customers change: a run that dies in between leaves pre-images only.
        changed = [read.stored[c.id] for c in resolution.updates]
        await preimages.record(request.import_id, changed)
    if updates:
        result = await customers.bulk_write(updates, ordered=False)
        if result.matched_count != len(updates):
            raise ResolveAgain(
                f"{len(updates) - result.matched_count} customer(s) changed meanwhile"
            )
    inserted = {c.id for c in resolution.inserts}
    orphans = [customer_oid(cid) for cid in read.own if cid not in inserted]
    if orphans:  # written by an earlier run that resolved differently
        await customers.delete_many({"_id": {"$in": orphans}})
    await _insert(resolution.inserts, now, origin)
    if plan.after:
        settled = await claims.collection().bulk_write(plan.after, ordered=False)
        if settled.matched_count + settled.deleted_count < len(plan.after):
            log.warning("writer %s: some claims changed hands while it wrote", request.writer)


async def _claim(plan: claims.ClaimWrites) -> None:
    collection = claims.collection()
    try:
        if plan.updates:
            result = await collection.bulk_write(plan.before, ordered=False)
            matched = result.matched_count
        else:  # an all-new batch: no write models to build (py-spy: their cost showed)
            await collection.insert_many(plan.inserts, ordered=False)
            matched = 0
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            raise
        refused = {e["index"] for e in errors}
        taken = [doc for i, doc in enumerate(plan.inserts) if i not in refused]
        raise ResolveAgain("identifier values held by another writer", taken) from None
    if matched != len(plan.updates):
        raise ResolveAgain(f"{len(plan.updates) - matched} claim(s) changed meanwhile")


async def _insert(inserts: Sequence[CustomerState], now: Any, origin: str) -> None:
    if not inserts:
        return
    docs = [
        {
            "_id": customer_oid(c.id),
            "attributes": c.attributes,
            "created_at": now,
            "updated_at": now,
        }
        | {"rev": 1, "written_by": origin}
        for c in inserts
    ]
    customers = Customer.get_pymongo_collection()
    # Existing: inserted by an earlier run of this writer (the ids are this writer's own).
    again = [
        ReplaceOne({"_id": docs[i]["_id"]}, docs[i]) for i in await insert_new(customers, docs)
    ]
    if again:
        await customers.bulk_write(again, ordered=False)
