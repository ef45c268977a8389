"""Completing an import: once every batch is counted, build the report and end the job."""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId

from config import Settings
from store import files, reports
from store.documents import BatchStatus, Counts, ImportBatch, ImportJob, JobStatus, utcnow
from store.jobs import states, step_run
from store.jobs.batches import wait_for_writers
from store.jobs.progress import count_finished
from store.jobs.queries import get_job, job_oid
from store.jobs.steps import COMPLETION, REPORT, Document

log = logging.getLogger(__name__)

ERRORS_SHOWN = 5


async def finalize_job(job_id: str, settings: Settings) -> None:
    """Build the report and complete the job, once: a lease keeps a second delivery out
    while the first works, and lets a later one take over if the first worker died; the
    step's deliveries end the job failed at the limit (store.jobs.step_run)."""
    oid = job_oid(job_id)
    every_batch_counted = {
        "_id": oid,
        "status": JobStatus.IN_PROGRESS,
        "batch_count": {"$ne": None},
        "$expr": {"$gte": ["$batches_done", "$batch_count"]},
    }
    await step_run.run(COMPLETION, every_batch_counted, settings, _complete)
    # Not every batch is counted, done already, a live delivery is at it, or the job was
    # cancelled: before this delivery, or while it built the report (the completion then
    # left it to this, with the lease free again).
    await step_run.run(REPORT, _cancelled_without_report(oid), settings, _report_cancelled)


def _cancelled_without_report(job_id: ObjectId) -> dict[str, Any]:
    return {
        "_id": job_id,
        "status": JobStatus.CANCELLED,
        "report_file_id": None,
        "file_id": {"$ne": None},  # not expired (see maintenance.delete_expired_files)
    }


async def _report_cancelled(document: Document) -> None:
    """A cancelled import gets the report of what it did, once the batches that were
    running when it was cancelled have stopped writing; it stays cancelled."""
    cancelled = ImportJob.model_validate(document)
    await wait_for_writers(cancelled, "cancelled import")
    # A batch finished just before may not have added its counts yet: the report's and the
    # job's counts must be the same.
    await count_finished(cancelled)
    job = await get_job(str(document["_id"]))
    report_id = await reports.build_report(job)
    await ImportJob.get_pymongo_collection().update_one(
        _cancelled_without_report(document["_id"]),
        {"$set": {"report_file_id": report_id, "announce": True}},  # store.webhooks
    )


async def _complete(document: Document) -> None:
    job = ImportJob.model_validate(document)
    failed_batches = await _failed_batches(str(job.id))
    finished_at = job.finished_at = utcnow()
    report_id = await reports.build_report(job)
    error = None
    if failed_batches:
        error = _failed_batches_message(failed_batches, job.batch_count or 0)
    ended = await states.complete(job.id, finished_at, {"report_file_id": report_id}, error)
    if not ended:  # cancelled meanwhile: its report says so, see above
        await files.delete(files.reports(), report_id)
        return
    for original_id in filter(None, (job.retry_of, job.resume_of)):
        await _report_again_naming(original_id)


async def _report_again_naming(original_id: str) -> None:
    """The original's report names its retries and its resume too: it is built again (from
    its batches, kept as long as its report) once a retry or the resume of it ends."""
    original = await get_job(original_id)
    if original.report_file_id is None or original.file_id is None:
        return  # no report yet, or expired
    try:
        report_id = await reports.build_report(original)
    except Exception:  # the retry is complete whatever happens to the original's report
        log.exception("the report of import %s could not be built again", original_id)
        return
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": original.id}, {"$set": {"report_file_id": report_id}}
    )
    await files.delete(files.reports(), original.report_file_id)


async def _failed_batches(job_id: str) -> list[tuple[str, int, int]]:
    """Each failed batch's problem, rows and deliveries, in file order."""
    cursor = (
        ImportBatch.get_pymongo_collection()
        .find(
            {"job_id": job_id, "status": BatchStatus.FAILED},
            {"error": 1, "counts": 1, "attempts": 1},
        )
        .sort("seq", 1)
    )
    return [
        (b.get("error") or "unknown error", Counts.model_validate(b["counts"]).total, b["attempts"])
        async for b in cursor
    ]


def _failed_batches_message(failed: list[tuple[str, int, int]], batch_count: int) -> str:
    rows = sum(count for _, count, _ in failed)
    attempts = sorted({a for _, _, a in failed})
    tries = f"{attempts[0]}" if len(attempts) == 1 else f"{attempts[0]}–{attempts[-1]}"
    shown = "; ".join(problem for problem, _, _ in failed[:ERRORS_SHOWN])
    more = f"; and {len(failed) - ERRORS_SHOWN} more" if len(failed) > ERRORS_SHOWN else ""
    return (
        f"{len(failed)} of {batch_count} batches could not be processed after {tries} "
        f"attempts, so their {rows} row(s) are counted as failed: {shown}{more}"
    )
