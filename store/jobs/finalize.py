"""Completing an import: once every batch is counted, build the report and end the job."""

from __future__ import annotations

import logging

from config import Settings
from store import writers
from store.commit import Contended
from store.documents import BatchStatus, Counts, ImportBatch, ImportJob, JobStatus, utcnow
from store.jobs import leases, policy
from store.jobs.progress import fail_job
from store.jobs.queries import get_job, job_oid

log = logging.getLogger(__name__)

ERRORS_SHOWN = 5


async def finalize_job(job_id: str, settings: Settings) -> None:
    """Build the report and complete the job, once: a lease keeps a second delivery out
    while the first works, and lets a later one take over if the first worker died.
    Deliveries that take the lease are counted: when the last one fails too, or the earlier
    ones all stopped midway, the job ends failed with its counts and the reason."""
    lease = await leases.take(
        ImportJob.get_pymongo_collection(),
        {
            "_id": job_oid(job_id),
            "status": JobStatus.IN_PROGRESS,
            "batch_count": {"$ne": None},
            "$expr": {"$gte": ["$batches_done", "$batch_count"]},
        },
        "finalizing_until",
        settings.lease_seconds,
        count_in="finalize_attempts",
    )
    if lease is not None:
        async with lease:
            await _finalize(ImportJob.model_validate(lease.document))
    # Not every batch is counted, done already, a live delivery is at it, or the job was
    # cancelled: before this delivery, or while it built the report (the completion then
    # left it to this, with the lease free again).
    await _report_cancelled(job_id, settings)


async def _report_cancelled(job_id: str, settings: Settings) -> None:
    """A cancelled import gets the report of what it did, once the batches that were
    running when it was cancelled have stopped writing; it stays cancelled."""
    from store import reports

    jobs = ImportJob.get_pymongo_collection()
    query = {
        "_id": job_oid(job_id),
        "status": JobStatus.CANCELLED,
        "report_file_id": None,
        "file_id": {"$ne": None},  # not expired (see maintenance.delete_expired_files)
    }
    lease = await leases.take(
        jobs, query, "finalizing_until", settings.lease_seconds, count_in="finalize_attempts"
    )
    if lease is None:
        return  # reported already, or a live delivery is at it
    async with lease:
        job = ImportJob.model_validate(lease.document)
        batch_ids = [f"{job.id}-{seq:06d}" for seq in range(job.batch_count or 0)]
        if await writers.live(batch_ids):
            raise Contended(f"batches of cancelled import {job_id} are still being written")
        report_id = await reports.build_report(job)
        await jobs.update_one(
            {**query, "_id": job.id},
            {"$set": {"report_file_id": report_id, "announce": True}},  # store.webhooks
        )


async def _finalize(job: ImportJob) -> None:
    from store import files, reports

    job_id = str(job.id)
    attempt = job.finalize_attempts
    if attempt > policy.MAX_ATTEMPTS:
        message = policy.interrupted(
            "Every row was processed, but building the report", attempt - 1
        )
        await fail_job(job_id, message)
        return
    try:
        failed_batches = await _failed_batches(job_id)
        job.finished_at = utcnow()
        report_id = await reports.build_report(job)
    except Exception as problem:
        if policy.may_retry(attempt, problem):
            raise  # Dramatiq retries the message; the lease ends with this delivery
        log.exception("completing import %s failed after %d attempts", job_id, attempt)
        await fail_job(
            job_id,
            "Every row was processed, but the results report could not be built after "
            f"{attempt} attempts: {policy.describe(problem)}",
        )
        return
    status, error = JobStatus.COMPLETED, None
    if failed_batches:
        status = JobStatus.FAILED
        error = _failed_batches_message(failed_batches, job.batch_count or 0)
    ended = await ImportJob.get_pymongo_collection().update_one(
        {"_id": job.id, "status": JobStatus.IN_PROGRESS},
        {
            "$set": {
                "status": status,
                "error": error,
                "finished_at": job.finished_at,
                "report_file_id": report_id,
                "announce": True,  # its webhook event (store.webhooks)
            }
        },
    )
    if not ended.modified_count:  # cancelled meanwhile: its report says so, see above
        await files.delete(files.reports(), report_id)
        return
    for original_id in filter(None, (job.retry_of, job.resume_of)):
        await _report_again_naming(original_id)


async def _report_again_naming(original_id: str) -> None:
    """The original's report names its retries and its resume too: it is built again (from
    its batches, kept as long as its report) once a retry or the resume of it ends."""
    from store import files, reports

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
