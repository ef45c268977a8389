"""Reverting an import: a job of its own (kind "revert") that deletes the customers the
import inserted and restores the ones it changed from their pre-images (store.customers.preimages),
leaving any customer changed since as a conflict in its report.

Safe to run again: every write is conditional on the customer being as the import left it,
a customer already back at its pre-image counts as restored, and what the revert did with
each customer is noted (store.customers.revert_notes), from which the counts are taken at the
end, whatever the number of deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import Settings
from domain.audit import AuditAction
from store import audit
from store.audit import Target
from store.customers import preimages, restore, revert_notes, writers
from store.documents import ImportJob, JobKind, RevertCounts, utcnow
from store.errors import Conflict, Gone
from store.jobs import states, step_run
from store.jobs.batches import wait_for_writers
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import get_job, job_oid, job_schema, never_read
from store.jobs.states import UNFINISHED
from store.jobs.steps import REVERT, Document
from store.principal import Principal
from store.reports import revert as revert_report

log = logging.getLogger(__name__)
CHUNK = 500  # customers read and written at a time
CHUNKS_AT_ONCE = 4


async def start_revert(job_id: str, principal: Principal, dispatcher: Dispatcher) -> ImportJob:
    """Create the revert job of an import, or return the one it has: an import is reverted
    once, so asking again changes nothing (a revert that failed or was cancelled runs
    again: it picks up where it stopped)."""
    job = await get_job(job_id)
    principal.require_owner(job.created_by_key, "revert", "import")
    _check_revertible(job)
    revert_id = job.revert_id or str(ObjectId())
    reserved = job.revert_id is not None or await states.reserve_revert(
        job, revert_id, principal.name
    )
    if not reserved:  # another request reserved it first
        return await start_revert(job_id, principal, dispatcher)
    revert = ImportJob(
        id=ObjectId(revert_id),
        kind=JobKind.REVERT,
        revert_of=job_id,
        file_name=job.file_name,
        file_id=job.file_id,  # retention expires the revert's report like an import's
        record_type=job.record_type,
        action=job.action,
        deduplication_keys=job.deduplication_keys,
        mapping=job.mapping,
        header=job.header,
        schema_attributes=job.schema_attributes,
        created_by=principal.name,
        created_by_key=principal.key_id,
        revert_counts=RevertCounts(),
    )
    target, details = Target("import", job_id), {"revertId": revert_id, "fileName": job.file_name}
    try:
        await revert.insert()
    except DuplicateKeyError:  # created by an earlier request (which may have died first)
        await audit.record(AuditAction.IMPORT_REVERTED, principal, target, details)
        return await _again_if_stopped(await get_job(revert_id), dispatcher)
    await audit.record(AuditAction.IMPORT_REVERTED, principal, target, details)
    log.info("revert %s of import %s started by %r", revert_id, job_id, principal.name)
    dispatcher.revert(revert_id)
    return revert


async def _again_if_stopped(revert: ImportJob, dispatcher: Dispatcher) -> ImportJob:
    if await states.restart(revert, REVERT.attempts):
        dispatcher.revert(str(revert.id))
    return await get_job(str(revert.id))


def _check_revertible(job: ImportJob) -> None:
    if job.kind is JobKind.REVERT:
        raise Conflict("This is a revert; a revert cannot be reverted")
    if job.status in UNFINISHED:
        raise Conflict(
            f"Import {job.id} is {job.status.value}; cancel it or let it finish, then revert it"
        )
    if job.dry_run:
        raise Conflict("This import was a dry run: it wrote nothing, so there is nothing to revert")
    if never_read(job):
        raise Conflict("This import ended before its file was read: it wrote nothing to revert")
    if job.file_id is None:
        raise Gone(
            "This import can no longer be reverted: its pre-images were deleted with its "
            "report when the retention period (REPORT_RETENTION_DAYS) ended"
        )


async def run_revert(revert_id: str, settings: Settings) -> None:
    """The revert job's one step. Its deliveries are counted; the last one that fails ends
    the revert failed with the reason (what it did so far stays done, and is reported).

    Its lease and count have fields of their own (steps.REVERT); a revert left midway by a
    worker of a version that kept them in the planning's fields is taken afresh: the
    old lease is ignored, and the revert is safe to run again (see above)."""

    async def revert(document: Document) -> None:
        await _revert(ImportJob.model_validate(document), settings)

    await step_run.run(REVERT, states.unfinished(job_oid(revert_id)), settings, revert)


async def _revert(revert: ImportJob, settings: Settings) -> None:
    assert revert.revert_of is not None
    import_id, revert_id = revert.revert_of, str(revert.id)
    original = await get_job(import_id)
    await wait_for_writers(original, "import")  # a cancelled import's may be writing
    started = revert.started_at or utcnow()
    total = await preimages.count(import_id) + await restore.count_inserted(import_id)
    await states.start(revert.id, {"started_at": started, "total_rows": total})
    writer = restore.RevertWriter(
        import_id,
        f"{revert_id}-revert",
        [a.key for a in job_schema(original).channel_identifiers],
        settings.lookup_chunk_size,
    )
    progress = _Progress(revert.id)
    written_revs: dict[str, int] = {}  # customers the import inserted and then updated

    async def restore_chunk(chunk: list[dict[str, Any]]) -> None:
        await writers.hold(writer.writer, settings.writer_lease_seconds)
        changed = [p for p in chunk if p.get("before") is not None]
        written_revs.update(
            (p["customer_id"], p["written_rev"])
            for p in chunk
            if p.get("before") is None and "written_rev" in p
        )
        done = await restore.restore_changed(writer, changed)
        overwritten = {r.customer_id: r.replaced for r in done if r.replaced is not None}
        await revert_notes.note(import_id, revert_id, _noted(done), overwritten)
        await progress.add(len(changed))

    async def delete_chunk(docs: list[dict[str, Any]]) -> None:
        await writers.hold(writer.writer, settings.writer_lease_seconds)
        to_delete, conflicts = await restore.deletable(writer, docs, written_revs)
        # Noted first: a run that dies after deleting still counts them.
        deleted = {str(d["_id"]): d for d in to_delete}
        await revert_notes.note(
            import_id, revert_id, [(cid, "deleted", None) for cid in deleted], deleted
        )
        conflicts += await restore.delete_inserted(writer, to_delete)
        await revert_notes.note(import_id, revert_id, _noted(conflicts))
        await progress.add(len(docs))

    # Restores first (they may take back values the import's new customers hold), then
    # deletes (written_revs is complete by then).
    fetch = settings.lookup_chunk_size
    await _each_chunk(preimages.of_import(import_id, CHUNK, fetch), restore_chunk)
    await _each_chunk(restore.inserted_by(import_id, CHUNK, fetch), delete_chunk)
    await writers.finish(writer.writer)
    noted = await revert_notes.counts(import_id, revert_id)
    counts = RevertCounts(
        deleted=noted.get("deleted", 0),
        restored=noted.get("restored", 0),
        conflicts=noted.get("conflict", 0),
    )
    counts.total = counts.deleted + counts.restored + counts.conflicts
    finished = utcnow()
    report_id = await revert_report.build_revert_report(revert, original, counts, finished)
    ended = {
        "revert_counts": counts.model_dump(),
        "processed_rows": counts.total,
        "total_rows": counts.total,
        "report_file_id": report_id,
    }
    await states.complete(revert.id, finished, ended)
    await states.mark_reverted(original.id, finished)


def _noted(results: list[restore.Reverted]) -> list[tuple[str, str, str | None]]:
    return [(r.customer_id, r.outcome, r.reason) for r in results]


async def _each_chunk(
    chunks: AsyncIterator[list[dict[str, Any]]],
    work: Callable[[list[dict[str, Any]]], Awaitable[None]],
) -> None:
    """`work` on each chunk, CHUNKS_AT_ONCE at a time: a chunk's customers are no other
    chunk's, and the server's writes overlap with the next chunk's reads, as the import's
    batches do on make run's worker threads. The first error ends them all."""
    running = asyncio.Semaphore(CHUNKS_AT_ONCE)

    async def one(chunk: list[dict[str, Any]]) -> None:
        try:
            await work(chunk)
        finally:
            running.release()

    try:
        async with asyncio.TaskGroup() as group:
            async for chunk in chunks:
                await running.acquire()
                group.create_task(one(chunk))
    except ExceptionGroup as failed:  # the step's retry policy judges the error itself
        raise failed.exceptions[0] from None


class _Progress:
    """The rows done so far, written after each chunk (chunks end in any order)."""

    def __init__(self, revert_id: object) -> None:
        self.revert_id, self.processed = revert_id, 0

    async def add(self, rows: int) -> None:
        self.processed += rows
        await ImportJob.get_pymongo_collection().update_one(
            {"_id": self.revert_id, "processed_rows": {"$lt": self.processed}},
            {"$set": {"processed_rows": self.processed}},
        )
