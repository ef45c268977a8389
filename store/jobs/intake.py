"""Accepting a file: checking, storing and enqueueing an import (its preview: reading.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import Settings, logs
from domain.actions import Action
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from domain.mapping import missing_required, resolve_mapping
from domain.remembered import RememberedMapping, adjusted
from domain.schema import RecordSchema
from domain.tabular import open_table
from store import audit, files, mappings
from store.auth import Principal
from store.documents import ImportJob, JobKind
from store.errors import Conflict
from store.jobs import admission, leases, states
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import get_job, job_schema
from store.jobs.reading import read_sample, remembered_for, suggestions_for, upload_limits
from store.schemas import get_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedFile:
    header: list[str]
    mapping: dict[str, str]
    total_rows: int
    size: int
    delimiter: str
    encoding: str
    adjusted: bool  # the mapping differs from the suggested one


def _retry_mapping(header: list[str], original: Mapping[str, str]) -> dict[str, str]:
    """A retry's file is mapped exactly as the original was: its other columns (such as the
    failed rows' `error`) are left out, and every column the original mapped must be there."""
    missing = [column for column in original if column not in header]
    if missing:
        raise FileRejected(
            "The corrected file lacks column(s) the original import mapped: "
            + ", ".join(missing)
            + "; send the rows with the original's columns (as in its failed-rows CSV)."
        )
    return {column: original[column] for column in header if column in original}


def _check_file(
    upload: IO[bytes],
    config: ImportConfig,
    schema: RecordSchema,
    settings: Settings,
    retry_of: ImportJob | None = None,
    remembered: RememberedMapping | None = None,
) -> CheckedFile:
    """Read the whole file once: mandatory attributes mapped, readable, within the limits.
    Raises FileRejected with the reason."""
    reader = open_table(
        upload,
        delimiter=config.delimiter,
        sheet=config.sheet,
        limits=upload_limits(settings),
        formula_escaped=retry_of is not None,  # its rows come from the failed-rows CSV
    )
    rows = iter(reader)  # one pass: a reader read again does not go on where it stopped
    sample, read = read_sample(rows)
    suggestions = suggestions_for(reader.header, sample, schema, remembered)
    if retry_of is not None:
        mapping = _retry_mapping(reader.header, retry_of.mapping)
    else:
        mapping = resolve_mapping(reader.header, suggestions, config.mapping, schema)
    missing = missing_required(mapping, schema)
    if missing:
        raise FileRejected(
            "The file has no column for mandatory attribute(s): " + ", ".join(missing),
            missing_required=missing,
        )
    unmatched = [key for key in config.deduplication_keys if key not in mapping.values()]
    if unmatched:
        # Rows could not be matched on it: every row would be new, or fail on another key.
        raise FileRejected(
            "No column of the file is mapped to the deduplication key(s) "
            + ", ".join(unmatched)
            + "; map a column to each, or deduplicate on other keys."
        )
    # Reads to the end (undecodable files fail here), or to the first row past the limit:
    # a file over it is refused without reading the rest.
    rest = itertools.islice(rows, max(0, settings.max_rows - read + 1))
    total = read + sum(1 for _ in rest)
    if total == 0:
        raise FileRejected("The file has a header but no data rows.")
    if total > settings.max_rows:
        raise FileRejected(
            f"The file has more than {settings.max_rows} rows, the most one import takes; "
            "split it into several files."
        )
    size = upload.seek(0, 2)
    upload.seek(0)
    return CheckedFile(
        reader.header,
        mapping,
        total,
        size,
        reader.delimiter,
        reader.encoding,
        adjusted(mapping, suggestions),
    )


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
        _check_file, upload, config, schema, settings, retry_of, remembered
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
        schema_attributes=[a.model_dump(by_alias=True, mode="json") for a in schema.attributes],
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
