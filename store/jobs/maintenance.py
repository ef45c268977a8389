"""Keeping storage bounded: retention of uploads, reports and batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId

from config import Settings
from store import files
from store.customers import preimages, revert_notes, writers
from store.documents import ImportBatch, ImportJob, utcnow
from store.jobs.states import FINISHED, UNFINISHED


async def delete_expired_files(settings: Settings, limit: int = 500) -> list[str]:
    """Retention: for each import finished more than REPORT_RETENTION_DAYS ago, delete its
    uploaded file, its report(s), its batches (their rows hold the file's data) and its
    pre-images (it can no longer be reverted), then
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
        {"file_id": 1, "resumed_by": 1},
        limit=limit,
    ).to_list()
    cleaned = []
    batches = ImportBatch.get_pymongo_collection()
    for job in expired:
        job_id = str(job["_id"])
        if await _resumed_now(job):
            continue  # its resume reads its file and batches: expired with it, later
        # Every report of the job, also one left by a finalize that died before recording it.
        await files.delete_where(files.reports(), {"metadata.jobId": job_id})
        await files.delete(files.uploads(), job["file_id"])
        batch_ids = [b["_id"] async for b in batches.find({"job_id": job_id}, {"_id": 1})]
        await writers.forget(batch_ids)
        await batches.delete_many({"job_id": job_id})
        await preimages.forget(job_id)
        await revert_notes.forget(job_id)
        await jobs.update_one(
            {"_id": job["_id"], "status": {"$in": list(FINISHED)}},
            {"$set": {"file_id": None, "report_file_id": None}},
        )
        cleaned.append(job_id)
    return cleaned


async def _resumed_now(job: dict[str, Any]) -> bool:
    """Whether an unfinished import resumes this one (store.jobs.resume)."""
    if not job.get("resumed_by"):
        return False
    resume = {"_id": ObjectId(job["resumed_by"]), "status": {"$in": list(UNFINISHED)}}
    return bool(await ImportJob.get_pymongo_collection().count_documents(resume, limit=1))
