"""Reading jobs and streaming their results."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import SortDirection
from bson import ObjectId
from bson.errors import InvalidId
from gridfs.errors import NoFile

from config import Settings
from domain.schema import RecordSchema
from domain.validation import RowValidator
from store import files, reports
from store.documents import ImportJob, JobStatus, utcnow
from store.errors import Conflict, Gone, NotFound
from store.jobs import policy
from store.jobs.states import FINISHED, UNFINISHED


def job_oid(job_id: str) -> ObjectId:
    try:
        return ObjectId(job_id)
    except InvalidId:
        raise NotFound(f"No import with id {job_id!r}") from None


async def get_job(job_id: str) -> ImportJob:
    job = await ImportJob.get(job_oid(job_id))
    if job is None:
        raise NotFound(f"No import with id {job_id!r}")
    return job


@dataclass(frozen=True)
class JobFilter:
    """Which imports a list shows; every field left None matches all."""

    status: JobStatus | None = None
    created_by: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    file_name: str | None = None  # a part of the name, in any case
    dry_run: bool | None = None  # checks only (True), imports that write only (False)
    has_failed_rows: bool | None = None  # with failed rows (True), without (False)

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.dry_run is not None:
            query["dry_run"] = self.dry_run
        if self.has_failed_rows is not None:
            query["counts.failed"] = {"$gt": 0} if self.has_failed_rows else 0
        if self.status:
            query["status"] = self.status.value
        if self.created_by:
            query["created_by"] = self.created_by
        created = {}
        if self.created_from:
            created["$gte"] = self.created_from
        if self.created_to:
            created["$lt"] = self.created_to
        if created:
            query["created_at"] = created
        if self.file_name:
            query["file_name"] = {"$regex": re.escape(self.file_name), "$options": "i"}
        return query


async def list_jobs(which: JobFilter, limit: int, offset: int) -> tuple[list[ImportJob], int]:
    query = ImportJob.find(which.query())
    total = await query.count()
    # Newest first; the id breaks ties of created_at (milliseconds), so pages never overlap.
    newest = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
    jobs = await query.sort(newest).skip(offset).limit(limit).to_list()
    return jobs, total


def job_schema(job: ImportJob) -> RecordSchema:
    return RecordSchema.model_validate(
        {"recordType": job.record_type, "attributes": job.schema_attributes}
    )


def job_validator(job: ImportJob, settings: Settings) -> RowValidator:
    return RowValidator(
        job_schema(job),
        phone_region=job.phone_default_region,
        phone_policy=settings.phone_validation,
        separator=job.multi_value_separator,
    )


def _deleted(what: str, settings: Settings) -> Gone:
    return Gone(
        f"{what} deleted: uploaded files and reports are kept for "
        f"{settings.report_retention_days} days after an import finishes"
    )


async def failed_rows(job_id: str, settings: Settings) -> tuple[ImportJob, AsyncIterator[bytes]]:
    """The failed-rows CSV, as pieces to stream (read from the batches as they are sent)."""
    job = await get_job(job_id)
    if job.status in FINISHED and never_read(job):
        raise Conflict(f"This import has no rows: it ended before its file was read ({job.error})")
    if job.status in FINISHED and job.file_id is None:  # see maintenance.delete_expired_files
        raise _deleted("The failed rows were", settings)
    if job.status not in FINISHED:
        raise Conflict(f"The failed rows are not ready: the import is {job.status.value}")
    return job, reports.failed_rows_csv(job)


def never_read(job: ImportJob) -> bool:
    """A source's import that ended before its file was read (the source failed, or its
    file was refused): it has no rows, report or failed rows."""
    return job.source is not None and not job.header


class ReportStatus(StrEnum):
    """Whether a job's report can be downloaded: a page or a script waits while it is coming,
    and stops waiting once it is ready or will not come."""

    READY = "ready"
    COMING = "coming"  # the job runs, or it was cancelled and its report is being built
    NONE = "none"  # none will come: expired, never read, ended failed, or given up


def report_status(job: ImportJob) -> ReportStatus:
    if job.status in UNFINISHED:
        return ReportStatus.COMING
    if job.file_id is None or never_read(job):  # expired (maintenance), or no rows ever
        return ReportStatus.NONE
    if job.report_file_id is not None:
        return ReportStatus.READY
    owed = job.status == JobStatus.CANCELLED and not _given_up(job)
    return ReportStatus.COMING if owed else ReportStatus.NONE


def _given_up(job: ImportJob) -> bool:
    return policy.report_given_up(job.finalize_attempts, job.finished_at, utcnow())


async def report_stream(job_id: str, settings: Settings) -> tuple[ImportJob, AsyncIterator[bytes]]:
    job = await get_job(job_id)
    if job.status in FINISHED and never_read(job):
        raise Conflict(
            f"This import has no report: it ended before its file was read ({job.error})"
        )
    if job.status in FINISHED and job.file_id is None:  # see maintenance.delete_expired_files
        raise _deleted("The report was", settings)
    if job.status == JobStatus.CANCELLED and job.report_file_id is None and _given_up(job):
        raise Conflict(
            f"The report of this cancelled import could not be built ({job.finalize_attempts} "
            "attempts); its counts are those shown with the import"
        )
    if job.status not in FINISHED or job.report_file_id is None:
        when = "in a few seconds" if job.status == JobStatus.CANCELLED else "when it has finished"
        raise Conflict(f"The report is not ready: the import is {job.status.value}; try {when}")
    try:
        return job, await files.open_chunks(files.reports(), job.report_file_id)
    except NoFile:  # deleted by a retention run that has not marked the job yet
        raise _deleted("The report was", settings) from None
