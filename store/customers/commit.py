"""Committing rows to the customers without a multi-document transaction: the loop that
reads (store.customers.reading), resolves (domain.resolution) and writes
(store.customers.writing) until a round goes through, or gives up for now.

A writer (one batch of an import, or one bulk request) resolves its rows against the
customers that hold their identifier values, takes the identifier claims of every value that
changes hands (store.customers.claims), writes the customers, then settles the claims.
Nothing here needs a transaction, so nothing here aborts on a duplicate key or holds a lock
on a customer:

- Safe to run again. A writer's new customers get ids made from the writer and the row
  (store.customers.ids.id_for_row), so running it again (a redelivered message, a worker
  that died halfway) finds its own earlier writes, resolves to the same result and writes
  the same customers.
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

import asyncio
import functools
import logging

from pymongo.errors import BulkWriteError

from domain.resolution import BatchResolution, IdentifierValue, identifier_values, resolve_batch
from store.customers import claims, reading, writers, writing
from store.customers.reading import Snapshot
from store.customers.request import Commit
from store.retry import RULES, Contended, KeptChanging, Reason, pause

log = logging.getLogger(__name__)


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
    # What planning read, for the first round that reads (a dry run changes no claim, so
    # nothing would show that they changed since; a run again may find its own writes), unless
    # a writer other than the import's batches is live now: it may hold these values, and a
    # writer that meets a live writer's claims waits for it (store.customers.reading).
    planned = None if request.dry_run or request.resumed else request.planned_claims
    if planned is not None and await writers.others_live(f"{request.import_id}-"):
        planned = None
    taken: dict[IdentifierValue, claims.Claim] = {}  # claims inserted by the optimistic round
    ident_of = {claims.claim_id(ident): ident for ident in wanted}
    conflicts = waits = 0
    while True:
        if not request.dry_run:
            await writers.hold(request.writer, request.lease_seconds)
        try:
            if optimistic:
                read = Snapshot({}, [], {}, {}, {})
            else:
                read = await reading.read(request, wanted, own_ids, identifier_keys, taken, planned)
                taken, planned = {}, None
            # Off the event loop: the other writers' commands go out meanwhile.
            resolution = await asyncio.to_thread(
                functools.partial(
                    resolve_batch,
                    request.rows,
                    read.existing,
                    action=request.action,
                    deduplication_keys=request.deduplication_keys,
                    schema=request.schema,
                    new_id=request.new_id,
                    bounds=request.bounds,
                )
            )
            if not request.dry_run:
                await writing.write(request, read, resolution, wanted, identifier_keys)
                await writers.finish(request.writer)
            return resolution
        except writing.ResolveAgain as retry:
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
            planned = None  # live writers change these claims: read them afresh
            waits += 1
            if waits >= RULES[Reason.CONTENDED].rounds:
                raise
            log.info("writer %s waits: %s", request.writer, contended)
            await pause(waits)
