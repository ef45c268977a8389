"""JSON shapes of the contract (camelCase), built from documents."""

from __future__ import annotations

from typing import Any

from store.documents import ImportJob


def job_json(job: ImportJob) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status.value,
        "fileName": job.file_name,
        "recordType": job.record_type,
        "action": job.action,
        "deduplicationKeys": job.deduplication_keys,
        "mapping": job.mapping,
        "dryRun": job.dry_run,
        "createdBy": job.created_by,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
        "progress": {"processedRows": job.processed_rows, "totalRows": job.total_rows},
        "counts": job.counts.model_dump(),
        "error": job.error,
    }
