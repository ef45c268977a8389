"""Processing one batch: resolve its rows against the customers and commit them
(store.customers.commit), then record the batch's results and add its counts to the job, each
step safe to repeat."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from bson import ObjectId
from pydantic import ValidationError

from config import Settings
from domain.actions import Action
from domain.resolution import IdentifierValue, Outcome, RowInput, RowResult
from store.customers import writers
from store.customers.claims import Claim, ident_of
from store.customers.commit import commit
from store.customers.ids import id_for_row
from store.customers.request import Commit
from store.documents import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    RowResultRecord,
    pack,
    unpack,
    utcnow,
)
from store.errors import NotFound
from store.jobs import policy, step_run
from store.jobs.dispatch import Dispatcher
from store.jobs.progress import count_batch, finish_if_complete
from store.jobs.queries import get_job, job_oid, job_schema
from store.jobs.states import UNFINISHED, batch_ids, batch_parts
from store.jobs.steps import BATCH, Document
from store.reports.rows import pack_details
from store.retry import Contended

log = logging.getLogger(__name__)
# When more than this share of a batch's rows reached existing customers when planned, the
# batch reads the claims first instead of assuming its rows are new: taking values others
# hold, then moving or giving back the ones taken, costs more than the reads (measured with
# bench.server_profile: a matched batch that tried first spent most of its server time on
# refused claim inserts and on moving the claims it took to the customers it then matched).
HELD_FOR_READING_FIRST = 0.1
SUMMARY = {"job_id": 1, "seq": 1, "status": 1, "counts": 1, "first_row": 1, "last_row": 1}


async def process_batch(batch_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    """Every delivery that takes the batch is counted before the rows are read as a batch:
    a batch whose document no longer reads still ends failed after its attempts."""

    job: ImportJob | None = None

    async def wanted(stored: Document) -> bool:
        nonlocal job
        job = await get_job(str(stored["job_id"]))
        return job.status in UNFINISHED  # a cancelled import's batch stays pending, uncounted

    async def take(stored: Document) -> None:
        assert job is not None  # read by `wanted`, first
        await _commit_batch(stored, job, settings)

    async def give_up(stored: Document, attempts: int, error: BaseException) -> None:
        await _mark_failed(batch_id, stored, error, attempts)

    pending = {"_id": batch_id, "status": BatchStatus.PENDING}
    if not await _of_stopped_job(batch_id):
        await step_run.run(BATCH, pending, settings, take, give_up, wanted)
    finished = await ImportBatch.get_pymongo_collection().find_one({"_id": batch_id}, SUMMARY)
    if finished is None:
        raise NotFound(f"No batch {batch_id!r}")
    if finished["status"] != BatchStatus.PENDING:
        # Finished by this delivery or an earlier one, which may have died before counting.
        await _count(finished, dispatcher)
    # Else a live delivery holds it: it finishes it, or its lease runs out.


async def _of_stopped_job(batch_id: str) -> bool:
    """Whether the batch's job has ended (cancelled, mostly) before this delivery: it then
    leaves without taking the batch's lease. A cancelled import's report waits while any
    batch lease is held (`wait_for_writers`), and its hundreds of batch messages still come
    one by one: each taking the lease only to skip would hold the report up for all of them.
    A job that ends after this read is seen by `wanted`, under the lease."""
    job_id, _ = batch_parts(batch_id)
    if not ObjectId.is_valid(job_id):
        return False  # no such job: the delivery fails the batch as any other would
    job = await ImportJob.get_pymongo_collection().find_one(
        {"_id": ObjectId(job_id)}, {"status": 1}
    )
    return job is not None and job["status"] not in UNFINISHED


async def _count(batch: dict[str, Any], dispatcher: Dispatcher) -> None:
    job_id = str(batch["job_id"])
    await count_batch(job_id, int(batch["seq"]), Counts.model_validate(batch["counts"]))
    await finish_if_complete(job_id, dispatcher)


async def _commit_batch(document: Document, job: ImportJob, settings: Settings) -> None:
    batch_id = str(document["_id"])
    # The batch's CPU work (decoding its rows, then its results) runs off the event loop:
    # with one database command at a time per worker (WORKER_DATABASE_COMMANDS), the other
    # batches' commands go out meanwhile instead of the server waiting for this one.
    batch, stored_rows, rows, planned = await asyncio.to_thread(_read_batch, document)
    job_id = str(job.id)
    resolution = await commit(
        Commit(
            rows=rows,
            action=Action(job.action),
            deduplication_keys=job.deduplication_keys,
            schema=job_schema(job),
            writer=batch_id,
            new_id=functools.partial(id_for_row, job_oid(str(job.id))),
            lookup_chunk_size=settings.lookup_chunk_size,
            lease_seconds=settings.writer_lease_seconds,
            dry_run=job.dry_run,
            resumed=int(document[BATCH.attempts]) > 1,
            import_id=job_id,
            assume_new=batch.held_rows is None
            or batch.held_rows <= HELD_FOR_READING_FIRST * len(rows),
            bounds=settings.profile_bounds,
            planned_claims=planned,
            claims_read_at=batch.claims_read_at,
        )
    )
    packed = await asyncio.to_thread(_packed_results, job, stored_rows, resolution.results)
    await _finish(batch_id, BatchStatus.DONE, packed)


def _read_batch(
    document: Document,
) -> tuple[ImportBatch, list[dict[str, Any]], list[RowInput], dict[IdentifierValue, Claim] | None]:
    """The batch, its rows as stored and as the commit takes them, its planned claims."""
    batch = ImportBatch.model_validate(document)
    stored = unpack(batch.packed_rows)
    rows = [RowInput(r.number, r.values, r.errors) for r in map(BatchRow.model_validate, stored)]
    return batch, stored, rows, _planned_claims(batch)


def _packed_results(
    job: ImportJob, rows: Sequence[dict[str, Any]], results: Sequence[RowResult]
) -> PackedResults:
    """The results packed and counted, and what the report shows of each row with its result."""
    # RowResultRecord's dump, built directly: a model per row and its dump took a tenth of
    # the worker's CPU in an all-new import's batches (py-spy), CPU the server waits on.
    dumped = [
        {
            "number": r.number,
            "outcome": r.outcome.value,
            "reason": r.reason,
            "customer_id": r.customer_id,
            "changes": list(r.changes),
        }
        for r in results
    ]
    counts = Counts.of([r.outcome.value for r in results])
    return PackedResults(pack(dumped), counts, pack_details(job, rows, dumped))


def _planned_claims(batch: ImportBatch) -> dict[IdentifierValue, Claim] | None:
    if batch.packed_claims is None:
        return None
    return {ident_of(doc["_id"]): Claim.of(doc) for doc in unpack(batch.packed_claims)}


class PackedResults(NamedTuple):
    """A batch's results as its document stores them: packed, counted, and what the report
    shows of them (None: the report works it out)."""

    packed: bytes
    counts: Counts
    details: bytes | None = None

    @classmethod
    def of(cls, records: Sequence[RowResultRecord]) -> PackedResults:
        return cls(pack(records), Counts.of([r.outcome for r in records]))


async def _finish(batch_id: str, status: BatchStatus, results: PackedResults, **extra: Any) -> None:
    """Record the batch's results, unless another delivery finished it first."""
    await ImportBatch.get_pymongo_collection().update_one(
        {"_id": batch_id, "status": BatchStatus.PENDING},
        {
            "$set": {
                "status": status,
                "packed_results": results.packed,
                "packed_details": results.details,
                "counts": results.counts.model_dump(),
                "updated_at": utcnow(),
                **extra,
            }
        },
    )


def _readable_rows(document: dict[str, Any] | None) -> list[BatchRow]:
    """The rows of a stored batch as far as they can be read: a row that does not read
    keeps its number, line and original cells, so that it can be reported."""
    try:
        items = unpack((document or {}).get("packed_rows"))
    except Exception:  # the blob itself is damaged: only the row range is known
        return []
    rows = []
    for item in items:
        try:
            rows.append(BatchRow.model_validate(item))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("number"), int):
                raw, line = item.get("raw"), item.get("line")
                rows.append(
                    BatchRow(
                        number=item["number"],
                        line=line if isinstance(line, int) else 0,
                        raw=[str(cell) for cell in raw] if isinstance(raw, list) else [],
                    )
                )
    return rows


async def _mark_failed(
    batch_id: str, stored: Document, error: BaseException, attempts: int
) -> None:
    """Mark the batch failed: each of its rows gets the outcome failed with the batch's
    problem as the reason."""
    document = await ImportBatch.get_pymongo_collection().find_one({"_id": batch_id})
    rows = _readable_rows(document)
    where = f"rows {stored.get('first_row', 0)}–{stored.get('last_row', 0)}"
    problem = f"{where}: {policy.describe(error)}"
    reason = (
        f"Not processed: the batch of {where} failed {attempts} times ({policy.describe(error)})"
    )
    results = [
        RowResultRecord(number=row.number, outcome=Outcome.FAILED.value, reason=reason)
        for row in rows
    ]
    # Readable from now on: the rows as far as they could be read.
    await _finish(
        batch_id,
        BatchStatus.FAILED,
        PackedResults.of(results),
        error=problem,
        packed_rows=pack(rows),
    )


async def wait_for_writers(job: ImportJob, what: str) -> None:
    """Raises Contended (a delivery later goes on) while a batch of `job` may still be
    writing, or recording what it wrote (its writer is done, its lease still held): a
    cancelled import's, whose report or revert must see every batch's results."""
    recording = {
        "job_id": str(job.id),
        "status": BatchStatus.PENDING,
        BATCH.lease: {"$gt": utcnow()},
    }
    if await writers.live(batch_ids(job)) or await ImportBatch.get_pymongo_collection().find_one(
        recording, {"_id": 1}
    ):
        raise Contended(f"batches of {what} {job.id} are still being written")
