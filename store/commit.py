"""Committing rows to the customers without a multi-document transaction.

A writer (one batch of an import, or one bulk request) resolves its rows against the
customers that hold their identifier values, takes the identifier claims of every value that
changes hands (store.claims), writes the customers, then settles the claims. Nothing here
needs a transaction, so nothing here aborts on a duplicate key or holds a lock on a customer:

- Safe to run again. A writer's new customers get ids made from the writer and the row
  (`id_for_row`), so running it again (a redelivered message, a worker that died halfway)
  finds its own earlier writes, resolves to the same result and writes the same customers.
- Concurrent writers. Claims are inserted or changed conditionally on what was read, and
  customer updates carry the `rev` that was read: a writer that got in first makes the
  other one resolve again against fresh data. A writer that meets a live writer's claims
  waits; when two wait on each other, the younger gives way (wait-die), so both finish.
- The cheap case first. The first round assumes that no one holds the rows' values and
  inserts their claims straight away: an all-new batch costs one insert of its claims and one
  of its customers. Only when a claim already exists does the writer read claims and
  customers, and resolve again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from domain.actions import Action
from domain.resolution import (
    BatchResolution,
    CustomerState,
    IdentifierValue,
    ProfileBounds,
    RowInput,
    identifier_values,
    resolve_batch,
)
from domain.schema import RecordSchema
from store import claims, preimages, writers
from store.documents import Customer, utcnow
from store.retry import RULES, Contended, KeptChanging, Reason, pause

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000


def id_for_row(writer_key: ObjectId, row_number: int) -> str:
    """The id of the customer a writer's row creates: the same on every run of the writer.
    The writer's timestamp first (ids stay ordered by creation), then 4 bytes of a hash of
    the writer and the row number."""
    digest = hashlib.sha1(writer_key.binary).digest()[:4]
    return str(ObjectId(writer_key.binary[:4] + digest + row_number.to_bytes(4, "big")))


def id_range_of(writer_key: ObjectId) -> tuple[ObjectId, ObjectId]:
    """The first and last id `id_for_row` can give a writer's rows: a revert finds the
    customers an import inserted by this `_id` range."""
    prefix = ObjectId(id_for_row(writer_key, 0)).binary[:8]
    return ObjectId(prefix + bytes(4)), ObjectId(prefix + b"\xff" * 4)


@dataclass(frozen=True)
class Commit:
    rows: Sequence[RowInput]
    action: Action
    deduplication_keys: Sequence[str]
    schema: RecordSchema
    writer: str
    new_id: Callable[[int], str]
    lookup_chunk_size: int
    lease_seconds: float
    dry_run: bool = False
    resumed: bool = False  # an earlier run of this writer may have written
    # The import this writer is a batch of: the customers it changes keep their pre-images
    # (store.preimages), so that the import can be reverted. None: a bulk request.
    import_id: str | None = None
    # Start by inserting the claims, as if no one held the values (cheapest when most rows
    # are new); else read them first (cheapest when many are held: nothing to undo).
    assume_new: bool = True
    bounds: ProfileBounds = field(default_factory=ProfileBounds)  # what a customer may hold


@dataclass
class _Read:
    claims: dict[IdentifierValue, claims.Claim]
    existing: list[CustomerState]
    stored: dict[str, dict[str, Any]]  # the customers read, whole documents, by id
    own: dict[str, dict[str, Any]]  # this writer's customers found written already
    holders: dict[IdentifierValue, str]


class _Retry(Exception):
    """Resolve again: another writer got in first."""

    def __init__(self, message: str, taken: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.taken = taken  # claims this writer inserted all the same


class WriteFailed(Exception):
    """The server refused writes for another reason than a duplicate key. Its text has the
    errors' codes and first message, never the documents (a BulkWriteError's text holds
    every one of them, and would put a whole batch of customers in a log line)."""


def _without_documents(error: BulkWriteError) -> WriteFailed:
    refused = error.details.get("writeErrors", [])
    codes = sorted({str(e.get("code")) for e in refused})
    first = str(refused[0].get("errmsg", ""))[:200] if refused else str(error.code)
    return WriteFailed(f"{len(refused)} write(s) refused (codes {', '.join(codes)}): {first}")


async def commit(request: Commit) -> BatchResolution:
    """Resolve `request.rows` (in order) and write the result; returns the resolution.
    Raises store.retry.TryAgain (Contended: other live writers hold its values;
    KeptChanging: they kept changing its customers) when it gives up for now. Whatever
    ends it, what it claimed then holds no one up at once (readers go by what the customers
    hold), instead of for its lease."""
    try:
        return await _commit(request)
    except BulkWriteError as error:
        await _release(request)
        raise _without_documents(error) from None
    except Exception:
        await _release(request)
        raise


async def _release(request: Commit) -> None:
    if request.dry_run:
        return
    try:
        await writers.release(request.writer)
    except Exception as error:  # the error that ended the writer is the one to report
        log.warning("writer %s not released (its lease runs out): %s", request.writer, error)


async def _commit(request: Commit) -> BatchResolution:
    identifier_keys = [a.key for a in request.schema.channel_identifiers]
    wanted: set[IdentifierValue] = set()
    for row in request.rows:
        if not row.errors:
            wanted |= identifier_values(row.values, identifier_keys)
    own_ids = {request.new_id(row.number) for row in request.rows if not row.errors}
    optimistic = request.assume_new and not request.dry_run and not request.resumed
    taken: dict[IdentifierValue, claims.Claim] = {}  # claims inserted by the optimistic round
    ident_of = {claims.claim_id(ident): ident for ident in wanted}
    conflicts = waits = 0
    while True:
        if not request.dry_run:
            await writers.hold(request.writer, request.lease_seconds)
        try:
            if optimistic:
                read = _Read({}, [], {}, {}, {})
            else:
                read = await _read(request, wanted, own_ids, identifier_keys, taken)
                taken = {}
            resolution = resolve_batch(
                request.rows,
                read.existing,
                action=request.action,
                deduplication_keys=request.deduplication_keys,
                schema=request.schema,
                new_id=request.new_id,
                bounds=request.bounds,
            )
            if not request.dry_run:
                await _write(request, read, resolution, wanted, identifier_keys)
                await writers.finish(request.writer)
            return resolution
        except _Retry as retry:
            if optimistic:
                optimistic = False  # some values were held already: now read those
                taken = {
                    ident_of[doc["_id"]]: claims.Claim(doc["c"], None, request.writer)
                    for doc in retry.taken
                    if doc["_id"] in ident_of
                }
                continue
            conflicts += 1
            if conflicts >= RULES[Reason.CHANGED].rounds:
                raise KeptChanging(
                    f"Other writers kept changing the same customers ({conflicts} attempts)"
                ) from retry
            log.info("writer %s resolves again: %s", request.writer, retry)
            await pause(conflicts)
        except Contended as contended:
            waits += 1
            if waits >= RULES[Reason.CONTENDED].rounds:
                raise
            log.info("writer %s waits: %s", request.writer, contended)
            await pause(waits)


async def _read(
    request: Commit,
    wanted: set[IdentifierValue],
    own_ids: set[str],
    identifier_keys: Sequence[str],
    taken: dict[IdentifierValue, claims.Claim],
) -> _Read:
    """The claims of `wanted` (but those this writer has just `taken`, known already) and
    the customers they name."""
    found = await claims.read(wanted - set(taken), request.lookup_chunk_size)
    if not request.dry_run:
        await _wait_for_live_writers(request.writer, found.values())
    found |= taken
    # This writer's own customers exist only if an earlier run of it wrote them: within one
    # run, a round that fails does so before its inserts.
    candidates: set[str] = set(own_ids) if request.resumed else set()
    for claim in found.values():
        candidates |= claim.candidates
    docs = await _customers(candidates, request.lookup_chunk_size)
    own = {cid: doc for cid, doc in docs.items() if cid in own_ids}
    starts = await _states_before_this_import(request, docs, own_ids)
    existing = [
        CustomerState(cid, starts.get(cid, doc).get("attributes") or {}, rev=doc.get("rev", 0))
        for cid, doc in sorted(docs.items())
        if cid not in own_ids
    ]
    holders: dict[IdentifierValue, str] = {}
    for cid, doc in docs.items():
        for ident in identifier_values(doc.get("attributes") or {}, identifier_keys):
            other = holders.setdefault(ident, cid)
            if other != cid:  # a writer died between its two writes: its next run repairs it
                raise Contended(f"{claims.claim_id(ident)} is held by two customers for now")
    return _Read(found, existing, docs, own, holders)


async def _states_before_this_import(
    request: Commit, docs: dict[str, dict[str, Any]], own_ids: set[str]
) -> dict[str, dict[str, Any]]:
    """A run of a batch that an earlier run already wrote starts each customer from its
    pre-image, not from that run's write: its rows then resolve as they did the first time,
    with the same outcomes and the same changes (else each update would say it changed
    nothing), and end in the same state."""
    if not request.resumed or request.import_id is None:
        return {}
    rewritten = [
        cid
        for cid, doc in docs.items()
        if cid not in own_ids and doc.get("written_by") == request.import_id
    ]
    return await preimages.states_before(request.import_id, rewritten) if rewritten else {}


async def _wait_for_live_writers(writer: str, found: Iterable[claims.Claim]) -> None:
    others = {c.writer for c in found if c.writer is not None and c.writer != writer}
    live = await writers.live(others)
    if not live:
        return
    if writer > min(live):  # the younger gives way, so two writers never wait on each other
        await writers.release(writer)
    raise Contended(f"claims held by {', '.join(sorted(live)[:3])}")


async def _customers(ids: Iterable[str], chunk_size: int) -> dict[str, dict[str, Any]]:
    oids = sorted(_oid(i) for i in set(ids))
    found: dict[str, dict[str, Any]] = {}
    collection = Customer.get_pymongo_collection()
    for start in range(0, len(oids), chunk_size):
        query = {"_id": {"$in": oids[start : start + chunk_size]}}
        # Whole documents: a customer this writer changes keeps its pre-image exactly.
        async for doc in collection.find(query):
            found[str(doc["_id"])] = doc
    return found


def _oid(customer_id: str) -> ObjectId:
    try:
        return ObjectId(customer_id)
    except InvalidId:  # a claim can only name customers we wrote; never expected
        raise ValueError(f"not a customer id: {customer_id!r}") from None


def _holders_after(
    read: _Read, resolution: BatchResolution, identifier_keys: Sequence[str]
) -> dict[IdentifierValue, str]:
    rewritten = {c.id for c in resolution.updates} | set(read.own)
    holders = {ident: cid for ident, cid in read.holders.items() if cid not in rewritten}
    for customer in [*resolution.updates, *resolution.inserts]:
        for ident in identifier_values(customer.attributes, identifier_keys):
            holders[ident] = customer.id
    return holders


async def _write(
    request: Commit,
    read: _Read,
    resolution: BatchResolution,
    wanted: set[IdentifierValue],
    identifier_keys: Sequence[str],
) -> None:
    after = _holders_after(read, resolution, identifier_keys)
    moving = {i for i in set(read.holders) | set(after) if read.holders.get(i) != after.get(i)}
    unread = moving - set(read.claims) - wanted
    known = {**read.claims, **(await claims.read(unread, request.lookup_chunk_size))}
    plan = claims.plan_writes(
        request.writer, wanted | moving, known, read.holders, after, probe=not read.claims
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
            {"_id": _oid(c.id), "rev": c.rev},
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
            raise _Retry(f"{len(updates) - result.matched_count} customer(s) changed meanwhile")
    inserted = {c.id for c in resolution.inserts}
    orphans = [_oid(cid) for cid in read.own if cid not in inserted]
    if orphans:  # written by an earlier run that resolved differently
        await customers.delete_many({"_id": {"$in": orphans}})
    await _insert(resolution.inserts, now, origin)
    if plan.after:
        settled = await claims.collection().bulk_write(plan.after, ordered=False)
        if settled.matched_count + settled.deleted_count < len(plan.after):
            log.warning("writer %s: some claims changed hands while it wrote", request.writer)


async def _claim(plan: claims.ClaimWrites) -> None:
    try:
        result = await claims.collection().bulk_write(plan.before, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            raise
        refused = {e["index"] for e in errors}
        taken = [doc for i, doc in enumerate(plan.inserts) if i not in refused]
        raise _Retry("identifier values held by another writer", taken) from None
    if result.matched_count != len(plan.updates):
        raise _Retry(f"{len(plan.updates) - result.matched_count} claim(s) changed meanwhile")


async def _insert(inserts: Sequence[CustomerState], now: Any, origin: str) -> None:
    if not inserts:
        return
    docs = [
        {"_id": _oid(c.id), "attributes": c.attributes, "created_at": now, "updated_at": now}
        | {"rev": 1, "written_by": origin}
        for c in inserts
    ]
    customers = Customer.get_pymongo_collection()
    try:
        await customers.insert_many(docs, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            raise
        # Inserted by an earlier run of this writer (the ids are this writer's own).
        again = [ReplaceOne({"_id": docs[e["index"]]["_id"]}, docs[e["index"]]) for e in errors]
        await customers.bulk_write(again, ordered=False)
