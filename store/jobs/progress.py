"""A job's progress: each finished batch adds its counts to the job once, and the batch that
completes the set hands the job to its completion step. No scan of the batches."""

from __future__ import annotations

import time
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from store.documents import Counts, ImportJob, utcnow
from store.errors import NotFound
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import UNFINISHED, job_oid


async def count_batch(job_id: str, seq: int, counts: Counts) -> None:
    """Add a finished batch's counts to its job, once however often this runs."""
    jobs = ImportJob.get_pymongo_collection()
    increments: dict[str, Any] = {f"counts.{k}": v for k, v in counts.model_dump().items()}
    increments |= {"batches_done": 1, "processed_rows": counts.total}
    await jobs.update_one(
        {"_id": job_oid(job_id), "counted_batches": {"$ne": seq}},
        {"$inc": increments, "$addToSet": {"counted_batches": seq}},
    )


async def finish_if_complete(job_id: str, dispatcher: Dispatcher) -> None:
    """Enqueue the completion once every batch is counted."""
    job = await ImportJob.get_pymongo_collection().find_one(
        {"_id": job_oid(job_id)},
        {"batch_count": 1, "batches_done": 1, "status": 1, "batches_done_at": 1},
    )
    if job is None or job.get("batch_count") is None or job["status"] not in UNFINISHED:
        return
    if job.get("batches_done", 0) < job["batch_count"]:
        return
    if job.get("batches_done_at") is None:
        await ImportJob.get_pymongo_collection().update_one(
            {"_id": job["_id"], "batches_done_at": None}, {"$set": {"batches_done_at": utcnow()}}
        )
    dispatcher.finalize(job_id)


async def count_job_attempt(job_id: str, field: str) -> dict[str, Any] | None:
    """Count a delivery of a job's step; the job as it is now, or None when it is no longer
    unfinished."""
    updated = await ImportJob.get_pymongo_collection().find_one_and_update(
        {"_id": job_oid(job_id), "status": {"$in": list(UNFINISHED)}},
        {"$inc": {field: 1}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        if await ImportJob.get_pymongo_collection().count_documents({"_id": job_oid(job_id)}) == 0:
            raise NotFound(f"No import with id {job_id!r}")
        return None
    return dict(updated)


async def fail_job(job_id: str, error: str) -> None:
    """End an unfinished job failed, with the reason; its counts are those counted so far."""
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": ObjectId(job_id), "status": {"$in": list(UNFINISHED)}},
        {
            "$set": {
                "status": "failed",
                "error": error,
                "finished_at": utcnow(),
                "finalizing_until": None,
            }
        },
    )


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
