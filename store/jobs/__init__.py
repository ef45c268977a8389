"""The import job pipeline, one step a module: reading (a file's limits, sample and mapping
preview), admission (per-key limits), intake (accept a file; file_check reads it through
once), planning (rows into batches), batches (one batch's commit, store.customers.commit),
progress (counting), finalize (the report), queries (reading jobs), cancel, revert (undoing
an import), resume (continuing a cancelled or failed one), leases and recovery (driving
again the steps of dead workers and lost messages), maintenance (retention), and the one
retry policy (policy).

A job's steps are one table (steps: actor, lease, deliveries, recovery) run by one routine
(step_run); every change of a job's status is in states."""

from store.jobs.batches import process_batch
from store.jobs.cancel import cancel_job
from store.jobs.dispatch import Dispatcher
from store.jobs.finalize import finalize_job
from store.jobs.intake import create_job, create_retry
from store.jobs.maintenance import delete_expired_files
from store.jobs.planning import plan_job
from store.jobs.policy import MAX_ATTEMPTS, MAX_CONTENDED_ATTEMPTS
from store.jobs.queries import (
    JobFilter,
    failed_rows,
    get_job,
    job_schema,
    list_jobs,
    report_status,
    report_stream,
)
from store.jobs.reading import MappingPreview, preview_mapping
from store.jobs.recovery import Driven, Queued, delete_abandoned_uploads, drive_unfinished
from store.jobs.remote import create_source_job
from store.jobs.resume import create_resume
from store.jobs.revert import run_revert, start_revert

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_CONTENDED_ATTEMPTS",
    "Dispatcher",
    "Driven",
    "JobFilter",
    "MappingPreview",
    "Queued",
    "cancel_job",
    "create_job",
    "create_resume",
    "create_retry",
    "create_source_job",
    "delete_abandoned_uploads",
    "delete_expired_files",
    "drive_unfinished",
    "failed_rows",
    "finalize_job",
    "get_job",
    "job_schema",
    "list_jobs",
    "plan_job",
    "preview_mapping",
    "process_batch",
    "report_status",
    "report_stream",
    "run_revert",
    "start_revert",
]
