"""Imports of a remote source (DESIGN.md §7): created pending with no file; their planning
fetches the file (store.sources) and checks it exactly as an upload is checked
(store.jobs.intake), and a file that would have been refused ends the job failed with the
reason, having written nothing."""

from __future__ import annotations

import tempfile
from typing import IO, Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from config import Settings
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from domain.remote import Source
from store import audit, outbound, sources
from store.documents import ImportJob, JobStatus, utcnow
from store.jobs import admission, intake, states
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import get_job, job_schema
from store.schemas import get_schema


async def create_source_job(
    config: ImportConfig,
    created_by: str,
    dispatcher: Dispatcher,
    settings: Settings,
    created_by_key: str | None = None,
    job_id: str | None = None,
    schedule_id: str | None = None,
    creator_role: str | None = None,
) -> ImportJob:
    """An import of `config.source`: checked now as far as it can be without the file (the
    settings, the address), created pending; its planning fetches the file and checks it as
    an upload is checked (`take_in`)."""
    assert config.source is not None
    if job_id is not None and (existing := await ImportJob.get(ObjectId(job_id))) is not None:
        await audit.record_new_import(existing, creator_role)  # see intake.create_job
        return existing
    await admission.check_running_imports(created_by, settings)
    schema = await get_schema(config.record_type)
    schema.check_deduplication_keys(config.deduplication_keys)
    if config.source.url is not None:
        await outbound.check_url(config.source.url, settings)
    async with admission.admitted(created_by, settings):
        job, made = await _insert(
            config, created_by, created_by_key, job_id, schedule_id, creator_role
        )
    if made:
        dispatcher.plan(str(job.id))
    return job


async def _insert(
    config: ImportConfig,
    created_by: str,
    created_by_key: str | None,
    job_id: str | None,
    schedule_id: str | None,
    creator_role: str | None,
    **fields: Any,
) -> tuple[ImportJob, bool]:
    """A source job with no file yet; the one with `job_id` if it exists already (made by
    an earlier delivery of the same request or run), and whether this made it. Its audit
    event is recorded either way (once): the delivery that made it may have died first."""
    assert config.source is not None
    job = intake.new_job(
        config,
        await get_schema(config.record_type),
        config.source.file_name(),
        created_by,
        created_by_key,
        job_id,
        file_id=None,
        mapping={},
        header=[],
        **source_fields(config, schedule_id),
        **fields,
    )
    try:
        await job.insert()
    except DuplicateKeyError:
        if job_id is None:
            raise
        job, made = await get_job(job_id), False
    else:
        made = True
        intake.log_created(job)
    await audit.record_new_import(job, creator_role)
    return job, made


def source_fields(config: ImportConfig, schedule_id: str | None) -> dict[str, Any]:
    """The job's fields that say where its file comes from."""
    assert config.source is not None
    return {
        "source": config.source.model_dump(exclude_none=True),
        "source_config": config.model_dump(by_alias=True, exclude_none=True, mode="json"),
        "schedule_id": schedule_id,
    }


def source_config(job: ImportJob) -> ImportConfig:
    return ImportConfig.model_validate(job.source_config or {})


async def take_in(job: ImportJob, fetched: IO[bytes], settings: Settings) -> ImportJob | None:
    """A source job's fetched file, checked as an upload is and stored: the job updated to
    name it, or None when the file was refused (the job then ends failed with the reason,
    having written nothing) or the job ended meanwhile."""
    jobs = ImportJob.get_pymongo_collection()
    try:
        async with intake.stored(
            fetched, job.file_name, source_config(job), job_schema(job), job.created_by, settings
        ) as accepted:
            updated = await jobs.find_one_and_update(
                {**states.unfinished(job.id), "file_id": None},
                {"$set": accepted.fields()},
                return_document=ReturnDocument.AFTER,
            )
            if updated is None:
                raise _Ended
    except FileRejected as rejected:
        await states.fail(str(job.id), f"The source's file was refused: {rejected}")
        return None
    except _Ended:
        return None
    taken: ImportJob = ImportJob.model_validate(updated)
    return taken


class _Ended(Exception):
    """The job ended (cancelled) while its file was fetched: the file is not kept."""


async def fetch_and_take_in(job: ImportJob, settings: Settings) -> ImportJob | None:
    """Planning's first step for a source job: the job with its file, or None when it ended
    (failed with the reason the source or its file gave)."""
    assert job.source is not None
    with tempfile.TemporaryFile() as fetched:
        try:
            await sources.fetch(Source.model_validate(job.source), fetched, settings)
        except sources.SourceError as error:
            await states.fail(str(job.id), str(error))
            return None
        fetched.seek(0)
        return await take_in(job, fetched, settings)


async def record_failed(
    job_id: str,
    config: ImportConfig,
    created_by: str,
    created_by_key: str | None,
    schedule_id: str | None,
    reason: str,
) -> ImportJob:
    """A source import that ended before it could start (the source failed, its file was
    refused, the key had too many imports running): failed with the reason, so that a
    schedule's run that could not import says why, like an import that fails."""
    job, _ = await _insert(
        config,
        created_by,
        created_by_key,
        job_id,
        schedule_id,
        None,  # a schedule's run: its creator's role is not known
        status=JobStatus.FAILED,
        error=reason,
        finished_at=utcnow(),
        announce=True,  # its webhook event (store.webhooks)
    )
    return job
