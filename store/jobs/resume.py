"""Resuming a cancelled or failed import: a new import of the rows the original did not
process, from the original's stored file with its settings, schema and mapping. The new job
names the original (`resume_of`), the original names it (`resumed_by`), and their counts add
up to those of one uninterrupted import of the file.

The rows left are those of the original's batches that did not commit (still pending, or
failed after their attempts: their rows were counted failed without being processed), or
every row when its planning never finished. Batches hold identifier groups, so these rows
are not always one stretch of the file; the resume's planning reads the file again, keeps
them (`RowsLeft`) and groups them against the data as it is now."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import Settings
from store import audit
from store.documents import (
    BatchStatus,
    ImportBatch,
    ImportJob,
    JobKind,
    JobStatus,
    unpack,
    utcnow,
)
from store.errors import Conflict, Gone
from store.jobs import admission, policy
from store.jobs.dispatch import Dispatcher
from store.jobs.intake import config_of, log_created, new_job
from store.jobs.queries import get_job, job_schema, never_read
from store.principal import Principal

RESUMABLE = (JobStatus.CANCELLED, JobStatus.FAILED)
NOT_COMMITTED = {"status": {"$ne": BatchStatus.DONE}}


class RowsLeft:
    """The data row numbers a resume imports, as sorted ranges: a test per row, and memory
    of a few ranges for a file whose unprocessed rows are mostly one stretch."""

    def __init__(self, numbers: array[int]) -> None:
        ordered = sorted(numbers)
        starts: list[int] = []
        ends: list[int] = []
        for number in ordered:
            if ends and number == ends[-1] + 1:
                ends[-1] = number
            elif not ends or number > ends[-1]:
                starts.append(number)
                ends.append(number)
        self._starts, self._ends = starts, ends

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        at = bisect_right(self._starts, number) - 1
        return at >= 0 and number <= self._ends[at]


async def rows_left(job: ImportJob) -> RowsLeft | None:
    """For a resume: the original's rows to import; None for any other import (every row)."""
    if job.resume_of is None:
        return None
    original = await get_job(job.resume_of)
    if original.batch_count is None:
        return None  # its planning never finished: no row of it was processed
    numbers: array[int] = array("q")
    batches = ImportBatch.get_pymongo_collection().find(
        {"job_id": job.resume_of, **NOT_COMMITTED}, {"packed_rows": 1}
    )
    async for batch in batches:
        numbers.extend(row["number"] for row in unpack(batch.get("packed_rows")))
    return RowsLeft(numbers)


async def _count_left(original: ImportJob) -> int:
    if original.batch_count is None:
        return original.total_rows
    uncommitted = ImportBatch.get_pymongo_collection().find(
        {"job_id": str(original.id), **NOT_COMMITTED}, {"row_count": 1}
    )
    return sum([batch.get("row_count") or 0 async for batch in uncommitted])


def _check_resumable(original: ImportJob, settings: Settings) -> None:
    job_id = str(original.id)
    if original.kind is not JobKind.IMPORT:
        raise Conflict("Only an import can be resumed; an undo that stopped is asked again")
    if original.status not in RESUMABLE:
        raise Conflict(
            f"Import {job_id} is {original.status.value}; only a cancelled or failed import "
            "can be resumed"
        )
    if never_read(original):
        raise Conflict(
            f"Import {job_id} ended before its file was read ({original.error}); start a new "
            "import instead"
        )
    if original.file_id is None:
        raise Gone(
            f"The file of import {job_id} was deleted: uploaded files are kept for "
            f"{settings.report_retention_days} days after an import finishes"
        )
    given_up = policy.report_given_up(original.finalize_attempts, original.finished_at, utcnow())
    if original.status == JobStatus.CANCELLED and original.report_file_id is None and not given_up:
        raise Conflict(
            f"Import {job_id} is still stopping (its last batches may be writing); resume it "
            "in a few seconds"
        )


async def create_resume(
    job_id: str,
    principal: Principal,
    dispatcher: Dispatcher,
    settings: Settings,
    new_id: str | None = None,
) -> ImportJob:
    """Continue a cancelled or failed import with the rows it did not process (an admin, or
    the key that created it). An import is resumed once: asking again answers 409 naming
    its resume."""
    original = await get_job(job_id)
    principal.require_owner(original.created_by_key, "resume", "import")
    _check_resumable(original, settings)
    left = await _count_left(original)
    if left == 0:
        raise Conflict(f"Every row of import {job_id} was processed; there is nothing to resume")
    resume_id = new_id or str(ObjectId())
    jobs = ImportJob.get_pymongo_collection()
    reserved = await jobs.update_one(
        {"_id": original.id, "resumed_by": None}, {"$set": {"resumed_by": resume_id}}
    )
    if reserved.modified_count == 0:
        taken = (await get_job(job_id)).resumed_by
        if taken is not None and await ImportJob.get(ObjectId(taken)) is not None:
            if taken == new_id:
                return await get_job(taken)  # the same request, answered again
            raise Conflict(f"Import {job_id} was resumed already, by import {taken}")
        resume_id = taken or resume_id  # reserved by a request that died before creating it
    resume = new_job(
        config_of(original).model_copy(update={"sheet": original.sheet}),
        job_schema(original),
        original.file_name,
        principal.name,
        principal.key_id,
        resume_id,
        resume_of=job_id,
        **_file_fields(original),
        total_rows=left,
    )
    try:
        async with admission.admitted(principal.name, settings):  # counts as a running import
            await resume.insert()
    except DuplicateKeyError:
        resume = await get_job(resume_id)  # created meanwhile by the same request
        await audit.record_new_import(resume, principal.role.value)
        return resume
    await audit.record_new_import(resume, principal.role.value)
    log_created(resume)
    dispatcher.plan(resume_id)
    return resume


def _file_fields(original: ImportJob) -> dict[str, Any]:
    """The original's stored file, read again as it was read (no copy is made)."""
    return {
        "file_id": original.file_id,
        "file_size": original.file_size,
        "mapping": original.mapping,
        "header": original.header,
        "delimiter": original.delimiter,
        "encoding": original.encoding,
        "source": original.source,  # shown with the import; the file is not fetched again
    }
