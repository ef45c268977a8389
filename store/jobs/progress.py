"""A job's progress: each finished batch adds its counts to the job once, and the batch that
completes the set hands the job to its completion step. No scan of the batches, but for
`enqueue_unfinished` (a job driven again)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from store.documents import BatchStatus, Counts, ImportBatch, ImportJob, utcnow
from store.jobs import policy
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import job_oid
from store.jobs.states import UNFINISHED


async def count_batch(job_id: str, seq: int, counts: Counts) -> None:
    """Add a finished batch's counts to its job, once however often this runs."""
    jobs = ImportJob.get_pymongo_collection()
    increments: dict[str, Any] = {f"counts.{k}": v for k, v in counts.model_dump().items()}
    increments |= {"batches_done": 1, "processed_rows": counts.total}
    await jobs.update_one(
        {"_id": job_oid(job_id), "counted_batches": {"$ne": seq}},
        {"$inc": increments, "$addToSet": {"counted_batches": seq}},
    )


class Checked:
    """Planning's own progress: how many rows it has read and validated, written to the job
    about once a second (a few updates for a file that takes seconds to plan), so a person
    sees it move before the first batch is processed. The write does not hold up the rows:
    it waits for a connection behind planning's reads of claims (store.jobs.holders)."""

    EVERY_SECONDS = 1.0

    def __init__(self, job_id: str) -> None:
        self.job_id, self.rows, self.last = job_id, 0, time.monotonic()
        self._writing: asyncio.Task[Any] | None = None

    def count(self) -> None:
        self.rows += 1
        if time.monotonic() - self.last < self.EVERY_SECONDS:
            return
        if self._writing is not None and not self._writing.done():
            return  # the last count is still being written: this one goes with a later one
        self.close()
        self.last = time.monotonic()
        self._writing = asyncio.create_task(
            ImportJob.get_pymongo_collection().update_one(
                {"_id": job_oid(self.job_id)}, {"$max": {"checked_rows": self.rows}}
            )
        )

    def close(self) -> None:
        """Stop a write still running (planning sets the final count itself)."""
        if self._writing is None:
            return
        if self._writing.done() and not self._writing.cancelled():
            self._writing.exception()  # progress only: a failed write is not planning's error
        self._writing.cancel()
        self._writing = None


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


async def enqueue_unfinished(job: ImportJob, dispatcher: Dispatcher) -> None:
    """One message per batch still pending; the completion when none is left."""
    pending = (
        ImportBatch.get_pymongo_collection()
        .find({"job_id": str(job.id), "status": BatchStatus.PENDING}, {"_id": 1})
        .sort("seq", 1)
    )
    any_pending = False
    small = policy.small_import(job.batch_count or 0)
    async for batch in pending:
        any_pending = True
        dispatcher.process_batch(batch["_id"], small)
    if any_pending:
        return
    await count_finished(job)
    await finish_if_complete(str(job.id), dispatcher)


async def count_finished(job: ImportJob) -> None:
    """Count the finished batches not counted yet: a worker that died between finishing a
    batch and counting it, or one that is about to count it (each batch counts once)."""
    uncounted = ImportBatch.get_pymongo_collection().find(
        {
            "job_id": str(job.id),
            "status": {"$ne": BatchStatus.PENDING},
            "seq": {"$nin": job.counted_batches},
        },
        {"seq": 1, "counts": 1},
    )
    async for batch in uncounted:
        await count_batch(str(job.id), batch["seq"], Counts.model_validate(batch["counts"]))
