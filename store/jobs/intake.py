"""Accepting a file: checking it (file_check.py), storing it and enqueueing an import (its
preview: reading.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import Settings, logs
from domain.actions import Action
from domain.import_config import ImportConfig
from domain.schema import RecordSchema
from store import audit, files, mappings
from store.documents import ImportJob, JobKind
from store.errors import Conflict
from store.jobs import admission, leases, states
from store.jobs.dispatch import Dispatcher
from store.jobs.file_check import CheckedFile, check_file
from store.jobs.queries import get_job, job_schema
from store.jobs.reading import remembered_for
from store.principal import Principal
from store.schema_changes.versions import attributes_json
from store.schemas import get_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """A file that passed the checks and is stored: the job's fields that describe it."""

    checked: CheckedFile
    file_id: ObjectId

    def fields(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_size": self.checked.size,
            "mapping": self.checked.mapping,
            "header": self.checked.header,
            "delimiter": self.checked.delimiter,
            "encoding": self.checked.encoding,
            "total_rows": self.checked.total_rows,
        }


@asynccontextmanager
async def stored(
    upload: IO[bytes],
    file_name: str,
    config: ImportConfig,
    schema: RecordSchema,
    created_by: str,
    settings: Settings,
    retry_of: ImportJob | None = None,
) -> AsyncIterator[Accepted]:
    """Check the whole file and store it; the body of the `async with` makes a job name it.
    A rejected file raises FileRejected; if the body fails, the stored file is deleted."""
    remembered = None
    if retry_of is None:
        remembered = await remembered_for(
            upload, config.record_type, config.delimiter, config.sheet, settings
        )
    # Scanning a file of millions of rows takes seconds of CPU: off the event loop.
    checked = await asyncio.to_thread(
        check_file, upload, config, schema, settings, retry_of, remembered
    )
    file_id = ObjectId()
    # The upload holds a lease while it is stored: if this process dies midway, the
    # recovery check deletes what it stored (store.jobs.recovery.delete_abandoned_uploads).
    async with await leases.hold_new(files.upload_leases(), file_id, settings.lease_seconds):
        try:
            await files.save_stream(
                files.uploads(), file_name, upload, {"recordType": config.record_type}, file_id
            )
            yield Accepted(checked, file_id)
        except BaseException:
            await files.delete(files.uploads(), file_id)
            raise
        await files.upload_leases().delete_one({"_id": file_id})  # the job names the file now
    if retry_of is None and config.mapping is not None and checked.adjusted:
        # The person's own choice, remembered for files with the same headers.
        await mappings.remember(config.record_type, checked.header, checked.mapping, created_by)


def new_job(
    config: ImportConfig,
    schema: RecordSchema,
    file_name: str,
    created_by: str,
    created_by_key: str | None,
    job_id: str | None,
    **fields: Any,
) -> ImportJob:
    return ImportJob(
        **({"id": ObjectId(job_id)} if job_id else {}),
        file_name=file_name,
        record_type=config.record_type,
        action=config.action.value,
        deduplication_keys=config.deduplication_keys,
        schema_attributes=attributes_json(schema),
        phone_default_region=config.phone_default_region,
        multi_value_separator=config.multi_value_separator,
        sheet=config.sheet,
        dry_run=config.dry_run,
        batch_size=config.batch_size,
        created_by=created_by,
        created_by_key=created_by_key,
        **fields,
    )


async def create_job(
    upload: IO[bytes],
    file_name: str,
    config: ImportConfig,
    created_by: str,
    dispatcher: Dispatcher,
    settings: Settings,
    created_by_key: str | None = None,
    retry_of: ImportJob | None = None,
    job_id: str | None = None,
    creator_role: str | None = None,
    **origin: Any,
) -> ImportJob:
    """Check the whole file, store it, create the job and enqueue its planning.
    A rejected file raises FileRejected and leaves nothing behind. A retry (`retry_of`)
    keeps the original's schema and mapping. Given `job_id` (an idempotent request, a
    schedule's run), an import that already has it is returned instead of a new one.
    `origin`: the job's `source`, `source_config` and `schedule_id`, if any.
    `creator_role`: the creator's role, for the audit trail (None for a schedule's run)."""
    if job_id is not None and (existing := await ImportJob.get(ObjectId(job_id))) is not None:
        # Its event too, should the request that made it have died before recording it.
        await audit.record_new_import(existing, creator_role)
        return existing
    await admission.check_running_imports(created_by, settings)
    schema = job_schema(retry_of) if retry_of else await get_schema(config.record_type)
    schema.check_deduplication_keys(config.deduplication_keys)
    try:
        async with stored(
            upload, file_name, config, schema, created_by, settings, retry_of
        ) as accepted:
            job = new_job(
                config,
                schema,
                file_name,
                created_by,
                created_by_key,
                job_id,
                retry_of=str(retry_of.id) if retry_of else None,
                **accepted.fields(),
                **origin,
            )
            async with admission.admitted(created_by, settings):
                await job.insert()
    except DuplicateKeyError:
        if job_id is None:
            raise
        return await get_job(job_id)  # created meanwhile by the same request
    if retry_of is not None:
        await ImportJob.get_pymongo_collection().update_one(
            {"_id": retry_of.id}, {"$addToSet": {"retries": str(job.id)}}
        )
    await audit.record_new_import(job, creator_role)
    log_created(job)
    dispatcher.plan(str(job.id))
    return job


def config_of(original: ImportJob) -> ImportConfig:
    """The settings of an import, for another import of its rows (a retry, a resume)."""
    return ImportConfig(
        record_type=original.record_type,
        deduplication_keys=original.deduplication_keys,
        action=Action(original.action),
        phone_default_region=original.phone_default_region,
        multi_value_separator=original.multi_value_separator,
        dry_run=original.dry_run,
        batch_size=original.batch_size,
    )


def log_created(job: ImportJob) -> None:
    """From here on, this request's lines (and its messages') name the import."""
    logs.bind(importId=str(job.id))
    log.info("import created: file %r, action %s, by %r", job.file_name, job.action, job.created_by)


async def create_retry(
    job_id: str,
    upload: IO[bytes],
    file_name: str,
    created_by: Principal,
    dispatcher: Dispatcher,
    settings: Settings,
    new_id: str | None = None,
) -> ImportJob:
    """Import corrected rows of a finished import with its settings and mapping: a new job
    whose `retry_of` names the original."""
    original = await get_job(job_id)
    created_by.require_owner(original.created_by_key, "retry", "import")
    if original.kind is not JobKind.IMPORT:
        raise Conflict("Only an import can be retried")
    if original.status not in states.FINISHED:
        raise Conflict(
            f"Import {job_id} is {original.status.value}; retry its failed rows once it ends"
        )
    return await create_job(
        upload,
        file_name,
        config_of(original),
        created_by.name,
        dispatcher,
        settings,
        created_by_key=created_by.key_id,
        retry_of=original,
        job_id=new_id,
        creator_role=created_by.role.value,
    )
