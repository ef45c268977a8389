"""Cancelling a job, by a person (an admin, or the key that created it)."""

from __future__ import annotations

from domain.audit import AuditAction
from store import audit
from store.audit import Target
from store.documents import ImportJob
from store.errors import Conflict
from store.jobs import states
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import get_job
from store.principal import Principal


async def cancel_job(job_id: str, principal: Principal, dispatcher: Dispatcher) -> ImportJob:
    """Stop a pending or running job. Its counts stay those of the batches counted so far
    (each batch adds its own, see store.jobs.progress), also for one that commits just after.
    The completion step then builds the report of what it did."""
    job = await get_job(job_id)
    principal.require_owner(job.created_by_key, "cancel", "import")
    if not await states.cancel(job.id):
        raise Conflict(
            f"Import {job_id} is {job.status.value}; only pending or running "
            "imports can be cancelled"
        )
    details = {"fileName": job.file_name}
    await audit.record(AuditAction.IMPORT_CANCELLED, principal, Target("import", job_id), details)
    dispatcher.finalize(job_id)
    return await get_job(job_id)
