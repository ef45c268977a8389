"""Contract bodies (camelCase structs of api.models) built from documents."""

from __future__ import annotations

from typing import Any

from api.models.imports import ImportSource, Job, JobCounts, JobProgress, RevertCounts, S3Object
from store import jobs
from store.documents import ImportJob


def source_body(source: dict[str, Any] | None) -> ImportSource | None:
    if source is None:
        return None
    s3 = source.get("s3")
    return ImportSource(url=source.get("url"), s3=S3Object(**s3) if s3 else None)


def job_body(job: ImportJob) -> Job:
    return Job(
        id=str(job.id),
        kind=job.kind.value,
        status=job.status.value,
        file_name=job.file_name,
        record_type=job.record_type,
        action=job.action,
        deduplication_keys=job.deduplication_keys,
        mapping=job.mapping,
        dry_run=job.dry_run,
        created_by=job.created_by,
        created_by_key_id=job.created_by_key,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=JobProgress(processed_rows=job.processed_rows, total_rows=job.total_rows),
        checked_rows=job.checked_rows,
        counts=JobCounts(**job.counts.model_dump()),
        error=job.error,
        report_status=jobs.report_status(job).value,
        retry_of=job.retry_of,
        retries=job.retries,
        resume_of=job.resume_of,
        resumed_by=job.resumed_by,
        revert_of=job.revert_of,
        revert_counts=RevertCounts(**job.revert_counts.model_dump()) if job.revert_counts else None,
        revert_id=job.revert_id,
        reverted_by=job.reverted_by,
        reverted_at=job.reverted_at,
        source=source_body(job.source),
        schedule_id=job.schedule_id,
    )
