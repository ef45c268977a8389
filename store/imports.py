"""Import jobs: accepting a file, planning it into batches, processing a batch, finishing.

Every step is idempotent (Dramatiq delivers at least once): a batch's customer writes and
its "done" mark commit in one transaction, so a redelivered or half-run message either
finds the batch done or starts it again from scratch.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, Protocol

from beanie import SortDirection
from bson import ObjectId
from bson.errors import InvalidId
from gridfs.errors import NoFile
from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure

from config import Settings
from domain.actions import Action
from domain.batching import RowGrouper
from domain.csvfile import CsvLimits, CsvReader
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from domain.mapping import ColumnSuggestion, missing_required, resolve_mapping, suggest_mapping
from domain.resolution import BatchResolution, Outcome, RowInput, identifier_values
from domain.schema import RecordSchema
from domain.validation import RowValidator
from store import customers, files
from store.documents import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    JobStatus,
    RowResultRecord,
    utcnow,
)
from store.errors import Conflict, Gone, NotFound
from store.schemas import get_schema

log = logging.getLogger(__name__)

SAMPLE_ROWS = 20
# Deliveries of a step (planning, a batch, the completion) that fail: at this many, the step
# ends failed instead of being retried, so that a job always ends. A batch that only met
# other writers' transactions gets more (see _held_by_another_writer): those end.
MAX_BATCH_ATTEMPTS = 5
# ...but not forever either: past this many deliveries (minutes of Dramatiq backoff and
# sweeper rounds, far beyond a transaction's lifetime) the batch fails, so the job ends.
MAX_CONTENDED_ATTEMPTS = 25
UNFINISHED = (JobStatus.PENDING, JobStatus.IN_PROGRESS)


class Dispatcher(Protocol):
    """Sends work to the workers. Messages carry ids only."""

    def plan(self, job_id: str) -> None: ...
    def process_batch(self, batch_id: str) -> None: ...
    def finalize(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class MappingPreview:
    columns: list[ColumnSuggestion]
    missing_required: list[str]
    encoding: str
    delimiter: str
    sample_rows: list[dict[str, str]]


def _limits(settings: Settings) -> CsvLimits:
    return CsvLimits(max_columns=settings.max_columns, max_field_chars=settings.max_field_chars)


def _read_sample(reader: CsvReader) -> list[list[str]]:
    sample = []
    for row in reader:
        if row.error is None:
            sample.append(row.values)
        if len(sample) >= SAMPLE_ROWS:
            break
    return sample


async def preview_mapping(
    upload: IO[bytes], record_type: str, delimiter: str | None, settings: Settings
) -> MappingPreview:
    schema = await get_schema(record_type)
    reader = CsvReader(upload, delimiter=delimiter, limits=_limits(settings))
    sample = _read_sample(reader)
    suggestions = suggest_mapping(reader.header, sample, schema)
    mapping = {s.column: s.field for s in suggestions if s.field is not None}
    return MappingPreview(
        columns=suggestions,
        missing_required=missing_required(mapping, schema),
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        sample_rows=[dict(zip(reader.header, values, strict=False)) for values in sample],
    )


async def create_job(
    upload: IO[bytes],
    file_name: str,
    config: ImportConfig,
    created_by: str,
    dispatcher: Dispatcher,
    settings: Settings,
) -> ImportJob:
    """Check the whole file, store it, create the job and enqueue its planning.
    A rejected file raises FileRejected and leaves nothing behind."""
    schema = await get_schema(config.record_type)
    config.check_against(schema)
    reader = CsvReader(upload, delimiter=config.delimiter, limits=_limits(settings))
    sample = _read_sample(reader)
    mapping = resolve_mapping(
        reader.header, suggest_mapping(reader.header, sample, schema), config.mapping, schema
    )
    missing = missing_required(mapping, schema)
    if missing:
        raise FileRejected(
            "The file has no column for mandatory attribute(s): " + ", ".join(missing),
            missing_required=missing,
        )
    total = len(sample) + sum(1 for _ in reader)  # reads to the end: undecodable files fail here
    if total == 0:
        raise FileRejected("The file has a header but no data rows.")
    if total > settings.max_rows:
        raise FileRejected(f"The file has {total} rows; at most {settings.max_rows} are allowed.")
    size = upload.seek(0, 2)
    upload.seek(0)
    file_id = await files.save_stream(
        files.uploads(), file_name, upload, {"recordType": config.record_type}
    )
    job = ImportJob(
        file_name=file_name,
        file_id=file_id,
        file_size=size,
        record_type=config.record_type,
        action=config.action.value,
        deduplication_keys=config.deduplication_keys,
        mapping=mapping,
        header=reader.header,
        schema_attributes=[a.model_dump(by_alias=True, mode="json") for a in schema.attributes],
        phone_default_region=config.phone_default_region,
        multi_value_separator=config.multi_value_separator,
        delimiter=reader.delimiter,
        encoding=reader.encoding,
        dry_run=config.dry_run,
        batch_size=config.batch_size,
        created_by=created_by,
        total_rows=total,
    )
    await job.insert()
    dispatcher.plan(str(job.id))
    return job


async def get_job(job_id: str) -> ImportJob:
    try:
        oid = ObjectId(job_id)
    except InvalidId:
        raise NotFound(f"No import with id {job_id!r}") from None
    job = await ImportJob.get(oid)
    if job is None:
        raise NotFound(f"No import with id {job_id!r}")
    return job


async def list_jobs(
    status: JobStatus | None, limit: int, offset: int
) -> tuple[list[ImportJob], int]:
    query = ImportJob.find(ImportJob.status == status) if status else ImportJob.find_all()
    total = await query.count()
    # Newest first; the id breaks ties of created_at (milliseconds), so pages never overlap.
    newest = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
    jobs = await query.sort(newest).skip(offset).limit(limit).to_list()
    return jobs, total


def job_schema(job: ImportJob) -> RecordSchema:
    return RecordSchema.model_validate(
        {"recordType": job.record_type, "attributes": job.schema_attributes}
    )


def _validator(job: ImportJob, settings: Settings) -> RowValidator:
    return RowValidator(
        job_schema(job),
        phone_region=job.phone_default_region,
        phone_policy=settings.phone_validation,
        separator=job.multi_value_separator,
    )


# --- planning -------------------------------------------------------------------------------


def _spooled_rows(spool: IO[bytes]) -> Iterator[BatchRow]:
    spool.seek(0)
    while True:
        try:
            yield pickle.load(spool)  # our own temporary file, written just above
        except EOFError:
            return


async def plan_job(job_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    """Validate every row and store the rows in batches; rows that share any identifier
    value go to one batch, in file order. Running twice stores the same batches.
    Deliveries are counted: when the last one fails too, or a delivery finds that the earlier
    ones all stopped midway (the worker died), the job ends failed with the reason."""
    counted = await _count_job_attempt(job_id, "plan_attempts")
    if counted is None:
        return  # finished or cancelled meanwhile
    attempt = int(counted["plan_attempts"])
    if attempt > MAX_BATCH_ATTEMPTS and counted.get("batch_count") is None:
        await _fail_job(job_id, _interrupted("Planning the import", attempt - 1))
        return
    try:
        await _plan_job(job_id, dispatcher, settings)
    except NotFound:
        raise  # no job to end
    except Exception as error:
        if attempt < MAX_BATCH_ATTEMPTS:
            raise  # Dramatiq retries the message
        log.exception("planning import %s failed after %d attempts", job_id, attempt)
        reason = (
            "the uploaded file is no longer stored"
            if isinstance(error, NoFile)
            else _describe(error)
        )
        await _fail_job(job_id, f"The import could not start after {attempt} attempts: {reason}")


class Heartbeat:
    """Marks a long step's job as making progress, so the recovery check leaves it alone."""

    INTERVAL_SECONDS = 10.0

    def __init__(self, job_id: ObjectId | None) -> None:
        self.job_id = job_id
        self.last = time.monotonic()

    async def beat(self) -> None:
        if time.monotonic() - self.last < self.INTERVAL_SECONDS:
            return
        self.last = time.monotonic()
        await ImportJob.get_pymongo_collection().update_one(
            {"_id": self.job_id}, {"$set": {"heartbeat_at": utcnow()}}
        )


async def _plan_job(job_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    job = await get_job(job_id)
    if job.status not in UNFINISHED:
        return
    if job.batch_count is not None:
        await _enqueue_unfinished(job, dispatcher)
        return
    validator = _validator(job, settings)
    identifier_keys = [a.key for a in validator.schema.channel_identifiers]
    grouper = RowGrouper()
    heartbeat = Heartbeat(job.id)
    with tempfile.TemporaryFile() as source, tempfile.TemporaryFile() as spool:
        await files.download_to(files.uploads(), job.file_id, source)
        source.seek(0)
        reader = CsvReader(source, delimiter=job.delimiter, limits=_limits(settings))
        for csv_row in reader:
            await heartbeat.beat()
            if csv_row.error:
                row = BatchRow(
                    number=csv_row.number,
                    line=csv_row.line,
                    raw=csv_row.values,
                    errors=[csv_row.error],
                )
            else:
                validated = validator.validate_csv_row(reader.header, csv_row.values, job.mapping)
                row = BatchRow(
                    number=csv_row.number,
                    line=csv_row.line,
                    raw=csv_row.values,
                    values=validated.values,
                    errors=validated.errors,
                )
            # Failed rows write nothing, so they need no group.
            grouper.add(() if row.errors else identifier_values(row.values, identifier_keys))
            pickle.dump(row, spool, protocol=pickle.HIGHEST_PROTOCOL)
        batch_of_row, sizes = grouper.assign_batches(job.batch_size or settings.batch_size)
        pending: dict[int, list[BatchRow]] = {}
        collection = ImportBatch.get_pymongo_collection()
        for index, row in enumerate(_spooled_rows(spool)):
            seq = batch_of_row[index]
            rows = pending.setdefault(seq, [])
            rows.append(row)
            if len(rows) == sizes[seq]:
                batch = ImportBatch(id=f"{job_id}-{seq:06d}", job_id=job_id, seq=seq, rows=rows)
                document = batch.model_dump(by_alias=True, mode="python")
                await collection.replace_one({"_id": batch.id}, document, upsert=True)
                del pending[seq]
                await heartbeat.beat()
    updated = await ImportJob.get_pymongo_collection().find_one_and_update(
        {"_id": job.id, "status": {"$in": list(UNFINISHED)}},
        {
            "$set": {
                "batch_count": len(sizes),
                "total_rows": len(batch_of_row),
                "status": JobStatus.IN_PROGRESS,
                "started_at": job.started_at or utcnow(),
                "heartbeat_at": utcnow(),
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:  # cancelled while planning
        return
    job = ImportJob.model_validate(updated)
    await _enqueue_unfinished(job, dispatcher)


async def _enqueue_unfinished(job: ImportJob, dispatcher: Dispatcher) -> None:
    pending = (
        ImportBatch.get_pymongo_collection()
        .find({"job_id": str(job.id), "status": BatchStatus.PENDING}, {"_id": 1})
        .sort("seq", 1)
    )
    any_pending = False
    async for batch in pending:
        any_pending = True
        dispatcher.process_batch(batch["_id"])
    if not any_pending:
        dispatcher.finalize(str(job.id))


# --- one batch ------------------------------------------------------------------------------


async def process_batch(batch_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    # The stored document is read raw and every delivery is counted before it is read as a
    # batch: a batch whose document no longer reads still ends failed after its attempts.
    stored = await ImportBatch.get_pymongo_collection().find_one({"_id": batch_id})
    if stored is None:
        raise NotFound(f"No batch {batch_id!r}")
    job = await get_job(str(stored.get("job_id")))
    if stored.get("status") != BatchStatus.PENDING or job.status not in UNFINISHED:
        await _finish_if_complete(job, dispatcher)
        return
    attempts = await _count_attempt(batch_id)
    try:
        batch = ImportBatch.model_validate(stored)
        rows = len(batch.rows)
        committed = await _resolve_and_commit(batch, job, settings)
    except Exception as error:
        if attempts < MAX_BATCH_ATTEMPTS or (
            _held_by_another_writer(error) and attempts < MAX_CONTENDED_ATTEMPTS
        ):
            raise  # Dramatiq retries the message (and after its retries, the sweeper)
        log.exception("batch %s failed after %d attempts", batch_id, attempts)
        marked = await _mark_batch_failed(stored, error)
        committed, rows = marked is not None, marked or 0
    if committed:
        after = await ImportJob.get_pymongo_collection().find_one_and_update(
            {"_id": job.id},
            {"$inc": {"processed_rows": rows}, "$set": {"heartbeat_at": utcnow()}},
            projection={"status": 1},
            return_document=ReturnDocument.AFTER,
        )
        if after is not None and after["status"] == JobStatus.CANCELLED:
            await _count_cancelled(job.id)  # committed just as the job was cancelled
    await _finish_if_complete(job, dispatcher)


def _held_by_another_writer(error: Exception) -> bool:
    """The batch's customers are held by another transaction: a concurrent import, or one
    left open by a worker killed mid-batch, which the server aborts within its transaction
    lifetime (60 s). That passes, so it gets MAX_CONTENDED_ATTEMPTS deliveries, not five."""
    if isinstance(error, Conflict | customers.WriteConflict):  # resolve_and_commit gave up
        return True
    return isinstance(error, OperationFailure) and error.has_error_label(
        "TransientTransactionError"
    )


async def _count_attempt(batch_id: str) -> int:
    updated = await ImportBatch.get_pymongo_collection().find_one_and_update(
        {"_id": batch_id}, {"$inc": {"attempts": 1}}, return_document=ReturnDocument.AFTER
    )
    return int(updated["attempts"]) if updated else 0


async def _resolve_and_commit(batch: ImportBatch, job: ImportJob, settings: Settings) -> bool:
    """Resolve the batch against the customers as they are now and commit the writes with
    the batch's "done" mark in one transaction. Returns False if another delivery of the
    same message committed first, or the job was cancelled meanwhile (nothing written)."""

    async def mark_done(resolution: BatchResolution, session: AsyncClientSession) -> bool:
        still_running = await ImportJob.get_pymongo_collection().find_one(
            {"_id": job.id, "status": {"$in": list(UNFINISHED)}}, {"_id": 1}, session=session
        )
        if still_running is None:  # cancelled while this batch was being resolved
            return False
        results = [
            RowResultRecord(
                number=r.number, outcome=r.outcome.value, reason=r.reason, customer_id=r.customer_id
            )
            for r in resolution.results
        ]
        marked = await ImportBatch.get_pymongo_collection().update_one(
            {"_id": batch.id, "status": BatchStatus.PENDING},
            {
                "$set": {
                    "status": BatchStatus.DONE,
                    "results": [r.model_dump() for r in results],
                    "counts": Counts.of(results).model_dump(),
                    "updated_at": utcnow(),
                }
            },
            session=session,
        )
        return marked.modified_count == 1

    resolution = await customers.resolve_and_commit(
        [RowInput(r.number, r.values, r.errors) for r in batch.rows],
        action=Action(job.action),
        deduplication_keys=job.deduplication_keys,
        schema=job_schema(job),
        dry_run=job.dry_run,
        lookup_chunk_size=settings.lookup_chunk_size,
        in_transaction=mark_done,
    )
    return resolution is not None


def _readable_rows(stored: dict[str, Any]) -> list[BatchRow]:
    """The rows of a stored batch as far as they can be read: a row that does not read
    keeps its number, line and original cells, so that it can be reported."""
    rows = []
    for item in stored.get("rows") or []:
        try:
            rows.append(BatchRow.model_validate(item))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("number"), int):
                raw = item.get("raw")
                line = item.get("line")
                rows.append(
                    BatchRow(
                        number=item["number"],
                        line=line if isinstance(line, int) else 0,
                        raw=[str(cell) for cell in raw] if isinstance(raw, list) else [],
                    )
                )
    return rows


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"its stored data is unreadable ({where}: {first['msg']})"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


async def _mark_batch_failed(stored: dict[str, Any], error: Exception) -> int | None:
    """Mark the batch failed: each of its rows gets the outcome failed with the batch's
    problem as the reason. Returns the number of rows, or None if the batch was no longer
    pending (another delivery finished it)."""
    rows = _readable_rows(stored)
    numbers = [row.number for row in rows]
    where = f"rows {min(numbers)}–{max(numbers)}" if numbers else f"batch {stored['_id']}"
    problem = f"{where}: {_describe(error)}"
    reason = (
        f"Not processed: the batch of {where} failed {MAX_BATCH_ATTEMPTS} times "
        f"({_describe(error)})"
    )
    results = [
        RowResultRecord(number=number, outcome=Outcome.FAILED.value, reason=reason)
        for number in numbers
    ]
    marked = await ImportBatch.get_pymongo_collection().update_one(
        {"_id": stored["_id"], "status": BatchStatus.PENDING},
        {
            "$set": {
                "status": BatchStatus.FAILED,
                "error": problem,
                "rows": [row.model_dump() for row in rows],  # readable from now on
                "results": [r.model_dump() for r in results],
                "counts": Counts.of(results).model_dump(),
                "updated_at": utcnow(),
            }
        },
    )
    return len(rows) if marked.modified_count == 1 else None


async def _finish_if_complete(job: ImportJob, dispatcher: Dispatcher) -> None:
    if job.batch_count is None:
        return
    unfinished = await ImportBatch.get_pymongo_collection().count_documents(
        {"job_id": str(job.id), "status": BatchStatus.PENDING}, limit=1
    )
    if unfinished == 0:
        dispatcher.finalize(str(job.id))


# --- completion -----------------------------------------------------------------------------

FINALIZE_LEASE = timedelta(minutes=10)


async def finalize_job(job_id: str, settings: Settings) -> None:
    """Aggregate the batch results, build the report and complete the job, once: a lease
    keeps a second delivery out while the first works, and lets a later one take over if
    the first worker died. Deliveries that take the lease are counted: when the last one
    fails too, or the earlier ones all stopped midway, the job ends failed with its counts
    and the reason."""
    from store import reports

    batches = ImportBatch.get_pymongo_collection()
    # Batches only ever leave `pending`, so a job with none left stays that way.
    if await batches.count_documents({"job_id": job_id, "status": BatchStatus.PENDING}, limit=1):
        return
    now = utcnow()
    claimed = await ImportJob.get_pymongo_collection().find_one_and_update(
        {
            "_id": ObjectId(job_id),
            "status": JobStatus.IN_PROGRESS,
            "batch_count": {"$ne": None},
            "$or": [{"finalizing_until": None}, {"finalizing_until": {"$lt": now}}],
        },
        {
            "$set": {"finalizing_until": now + FINALIZE_LEASE, "heartbeat_at": now},
            "$inc": {"finalize_attempts": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    if claimed is None:
        return
    job = ImportJob.model_validate(claimed)
    attempt = job.finalize_attempts
    counts: Counts | None = None
    if attempt > MAX_BATCH_ATTEMPTS:
        counts, _ = await _batch_counts(job_id)
        message = _interrupted("Every row was processed, but building the report", attempt - 1)
        await _fail_job(job_id, message, counts)
        return
    try:
        counts, failed_batches = await _batch_counts(job_id)
        job.counts = counts
        job.finished_at = utcnow()
        report_id = await reports.build_report(job)
    except Exception as problem:
        await _release(job_id)  # a retry may take over at once
        if attempt < MAX_BATCH_ATTEMPTS:
            raise  # Dramatiq retries the message
        log.exception("completing import %s failed after %d attempts", job_id, attempt)
        await _fail_job(
            job_id,
            "Every row was processed, but the results report could not be built after "
            f"{attempt} attempts: {_describe(problem)}",
            counts,
        )
        return
    status = JobStatus.COMPLETED
    error = None
    if failed_batches:
        status = JobStatus.FAILED
        failed_rows = sum(rows for _, rows in failed_batches)
        shown = "; ".join(problem for problem, _ in failed_batches[:5])
        more = f"; and {len(failed_batches) - 5} more" if len(failed_batches) > 5 else ""
        error = (
            f"{len(failed_batches)} of {job.batch_count} batches could not be processed "
            f"after {MAX_BATCH_ATTEMPTS} attempts, so their {failed_rows} row(s) are counted "
            f"as failed: {shown}{more}"
        )
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": job.id, "status": JobStatus.IN_PROGRESS},
        {
            "$set": {
                "status": status,
                "counts": counts.model_dump(),
                "error": error,
                "processed_rows": counts.total,
                "finished_at": job.finished_at,
                "report_file_id": report_id,
                "finalizing_until": None,
            }
        },
    )


async def _batch_counts(job_id: str) -> tuple[Counts, list[tuple[str, int]]]:
    """The sum of the finished batches' counts, and each failed batch's problem and rows."""
    counts = Counts()
    failed: list[tuple[str, int]] = []
    finished = (
        ImportBatch.get_pymongo_collection()
        .find(
            {"job_id": job_id, "status": {"$ne": BatchStatus.PENDING}},
            {"counts": 1, "status": 1, "error": 1},
        )
        .sort("seq", 1)
    )
    async for batch in finished:
        for name, value in batch["counts"].items():
            setattr(counts, name, getattr(counts, name) + value)
        if batch["status"] == BatchStatus.FAILED:
            failed.append((batch.get("error") or "unknown error", batch["counts"]["total"]))
    return counts, failed


async def _count_cancelled(job_id: Any) -> None:
    """A cancelled job's counts and progress are those of the batches finished before."""
    counts, _ = await _batch_counts(str(job_id))
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": job_id, "status": JobStatus.CANCELLED},
        {"$set": {"counts": counts.model_dump(), "processed_rows": counts.total}},
    )


async def _fail_job(job_id: str, error: str, counts: Counts | None = None) -> None:
    """End an unfinished job failed, with the reason (and its counts, when known)."""
    fields: dict[str, Any] = {
        "status": JobStatus.FAILED,
        "error": error,
        "finished_at": utcnow(),
        "finalizing_until": None,
    }
    if counts is not None:
        fields |= {"counts": counts.model_dump(), "processed_rows": counts.total}
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": ObjectId(job_id), "status": {"$in": list(UNFINISHED)}}, {"$set": fields}
    )


async def _count_job_attempt(job_id: str, field: str) -> dict[str, Any] | None:
    """Count a delivery of a job's step; the job as it is now, or None when it is no longer
    unfinished."""
    try:
        oid = ObjectId(job_id)
    except InvalidId:
        raise NotFound(f"No import with id {job_id!r}") from None
    updated = await ImportJob.get_pymongo_collection().find_one_and_update(
        {"_id": oid, "status": {"$in": list(UNFINISHED)}},
        {"$inc": {field: 1}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        await get_job(job_id)  # NotFound when there is no such job at all
        return None
    return dict(updated)


def _interrupted(what: str, attempts: int) -> str:
    return (
        f"{what} stopped midway {attempts} times (the worker process ended while working on "
        "it, e.g. out of memory); giving up"
    )


async def _release(job_id: str) -> None:
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": ObjectId(job_id)}, {"$set": {"finalizing_until": None}}
    )


async def cancel_job(job_id: str) -> ImportJob:
    job = await get_job(job_id)
    result = await ImportJob.get_pymongo_collection().update_one(
        {"_id": job.id, "status": {"$in": list(UNFINISHED)}},
        {"$set": {"status": JobStatus.CANCELLED, "finished_at": utcnow()}},
    )
    if result.modified_count == 0:
        raise Conflict(
            f"Import {job_id} is {job.status.value}; only pending or running "
            "imports can be cancelled"
        )
    await _count_cancelled(job.id)
    return await get_job(job_id)


# --- results and their retention ------------------------------------------------------------

FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def _deleted(what: str, settings: Settings) -> Gone:
    return Gone(
        f"{what} deleted: uploaded files and reports are kept for "
        f"{settings.report_retention_days} days after an import finishes"
    )


async def failed_rows(job_id: str, settings: Settings) -> tuple[ImportJob, AsyncIterator[bytes]]:
    """The failed-rows CSV, as pieces to stream (read from the batches as they are sent)."""
    from store import reports

    job = await get_job(job_id)
    if job.status in FINISHED and job.file_id is None:  # see delete_expired_files
        raise _deleted("The failed rows were", settings)
    if job.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
        raise Conflict(f"The failed rows are not ready: the import is {job.status.value}")
    return job, reports.failed_rows_csv(job)


async def report_stream(job_id: str, settings: Settings) -> tuple[ImportJob, AsyncIterator[bytes]]:
    from gridfs.errors import NoFile

    job = await get_job(job_id)
    if job.status in FINISHED and job.file_id is None:  # see delete_expired_files
        raise _deleted("The report was", settings)
    if job.status not in (JobStatus.COMPLETED, JobStatus.FAILED) or job.report_file_id is None:
        raise Conflict(f"The report is not ready: the import is {job.status.value}")
    try:
        return job, await files.open_chunks(files.reports(), job.report_file_id)
    except NoFile:  # deleted by a retention run that has not marked the job yet
        raise _deleted("The report was", settings) from None


async def delete_expired_files(settings: Settings, limit: int = 500) -> list[str]:
    """Retention: for each import finished more than REPORT_RETENTION_DAYS ago, delete its
    uploaded file, its report(s) and its batches (their rows hold the file's data), then
    clear the job's `file_id` and `report_file_id`: the job stays listed with its counts,
    and its report and failed rows answer 410 Gone. Unfinished imports are never touched;
    0 days keeps everything. Files go first, the mark last, so a run that dies halfway is
    finished by the next one. Returns the ids of the jobs cleaned (at most `limit`)."""
    if settings.report_retention_days <= 0:
        return []
    cutoff = utcnow() - timedelta(days=settings.report_retention_days)
    jobs = ImportJob.get_pymongo_collection()
    expired = await jobs.find(
        {
            "status": {"$in": list(FINISHED)},
            "finished_at": {"$lt": cutoff},
            "file_id": {"$ne": None},
        },
        {"file_id": 1},
        limit=limit,
    ).to_list()
    cleaned = []
    for job in expired:
        job_id = str(job["_id"])
        # Every report of the job, also one left by a finalize that died before recording it.
        await files.delete_where(files.reports(), {"metadata.jobId": job_id})
        await files.delete(files.uploads(), job["file_id"])
        await ImportBatch.get_pymongo_collection().delete_many({"job_id": job_id})
        await jobs.update_one(
            {"_id": job["_id"], "status": {"$in": list(FINISHED)}},
            {"$set": {"file_id": None, "report_file_id": None}},
        )
        cleaned.append(job_id)
    return cleaned


async def redrive_stalled_jobs(dispatcher: Dispatcher, settings: Settings) -> list[str]:
    """Enqueue again the work of unfinished jobs with no progress for STALLED_JOB_SECONDS:
    messages lost with a Redis restart, or a worker killed mid-batch. Safe to run any time,
    since every step is idempotent. Returns the ids of the jobs driven again."""
    now = utcnow()
    stalled = ImportJob.get_pymongo_collection().find(
        {
            "status": {"$in": list(UNFINISHED)},
            "heartbeat_at": {"$lt": now - timedelta(seconds=settings.stalled_job_seconds)},
        }
    )
    driven = []
    async for document in stalled:
        job = ImportJob.model_validate(document)
        await ImportJob.get_pymongo_collection().update_one(
            # The completion's lease stays: a report still being built is not built twice, and
            # a dead worker's lease runs out by itself.
            {"_id": job.id},
            {"$set": {"heartbeat_at": now}},
        )
        if job.batch_count is None:
            dispatcher.plan(str(job.id))
        else:
            await _enqueue_unfinished(job, dispatcher)
        driven.append(str(job.id))
    return driven
