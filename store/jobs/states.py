"""A job's status and every change of it, each guarded by the statuses it may change from:

    pending ──start──▶ in_progress ──complete──▶ completed (or failed: some batches failed)
       └──────────────────┴──fail──▶ failed        └──cancel──▶ cancelled
    failed / cancelled revert ──restart──▶ pending

A guard that no longer holds (the job was cancelled or ended meanwhile) makes the change do
nothing: the caller learns it from the return value. Reverting an import also marks the
import (`reserve_revert`, `mark_reverted`); its status stays as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from store.documents import ImportJob, JobStatus, utcnow

UNFINISHED = (JobStatus.PENDING, JobStatus.IN_PROGRESS)
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
RESTARTABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


def batch_id(job_id: object, seq: int) -> str:
    """The id of a job's `seq`-th batch (workers.step_context reads the job back from it)."""
    return f"{job_id}-{seq:06d}"


def batch_parts(batch: str) -> tuple[str, str]:
    """The id of the job whose batch is `batch`, and the batch's number as written (the
    inverse of `batch_id`)."""
    job_id, _, seq = batch.rpartition("-")
    return job_id, seq


def batch_ids(job: ImportJob) -> list[str]:
    return [batch_id(job.id, seq) for seq in range(job.batch_count or 0)]


def _jobs() -> Any:
    return ImportJob.get_pymongo_collection()


def unfinished(job_id: object) -> dict[str, Any]:
    return {"_id": job_id, "status": {"$in": list(UNFINISHED)}}


async def start(job_id: object, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Pending (or in progress already) → in progress, with `fields`; the job as updated,
    None when it ended meanwhile (cancelled)."""
    started: dict[str, Any] | None = await _jobs().find_one_and_update(
        unfinished(job_id),
        {"$set": {**fields, "status": JobStatus.IN_PROGRESS}},
        return_document=ReturnDocument.AFTER,
    )
    return started


async def complete(
    job_id: object, finished_at: datetime, fields: dict[str, Any], error: str | None = None
) -> bool:
    """In progress → completed, or failed with `error` (the job ran to its end, with batches
    that failed); False when it was cancelled meanwhile."""
    status = JobStatus.COMPLETED if error is None else JobStatus.FAILED
    ended = await _jobs().update_one(
        {"_id": job_id, "status": JobStatus.IN_PROGRESS},
        {
            "$set": {
                **fields,
                "status": status,
                "error": error,
                "finished_at": finished_at,
                "announce": True,  # its webhook event (store.webhooks)
            }
        },
    )
    return bool(ended.modified_count)


async def fail(job_id: str, error: str) -> None:
    """Pending or in progress → failed, with the reason; its counts are those counted so far."""
    await _jobs().update_one(
        unfinished(ObjectId(job_id)),
        {
            "$set": {
                "status": JobStatus.FAILED,
                "error": error,
                "finished_at": utcnow(),
                "announce": True,  # its webhook event (store.webhooks)
            }
        },
    )


async def cancel(job_id: object) -> bool:
    """Pending or in progress → cancelled; False when it had ended already."""
    cancelled = await _jobs().update_one(
        unfinished(job_id), {"$set": {"status": JobStatus.CANCELLED, "finished_at": utcnow()}}
    )
    return bool(cancelled.modified_count)


async def restart(job: ImportJob, attempts_field: str) -> bool:
    """Failed or cancelled → pending again, its deliveries counted afresh (a revert that
    stopped runs again); False when it is not in the status it was read in any more."""
    if job.status not in RESTARTABLE:
        return False
    restarted = await _jobs().update_one(
        {"_id": job.id, "status": job.status},
        {
            "$set": {"status": JobStatus.PENDING, "error": None, "finished_at": None},
            "$unset": {attempts_field: ""},
        },
    )
    return bool(restarted.modified_count)


async def reserve_revert(job: ImportJob, revert_id: str, reverted_by: str) -> bool:
    """Name the import's one revert; False when another request named one first."""
    reserved = await _jobs().update_one(
        {"_id": job.id, "revert_id": None},
        {"$set": {"revert_id": revert_id, "reverted_by": reverted_by}},
    )
    return bool(reserved.modified_count)


async def mark_reverted(job_id: object, at: datetime) -> None:
    await _jobs().update_one({"_id": job_id}, {"$set": {"reverted_at": at}})
