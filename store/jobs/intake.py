"""Accepting a file: the mapping preview, and checking, storing and enqueueing an import."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from config import Settings
from domain.actions import Action
from domain.csvfile import CsvLimits
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from domain.mapping import ColumnSuggestion, missing_required, resolve_mapping, suggest_mapping
from domain.remembered import RememberedMapping, adjusted, with_remembered
from domain.schema import RecordSchema
from domain.tabular import TableReader, open_table
from domain.xlsxfile import XlsxReader
from store import db, files, mappings
from store.auth import Principal
from store.documents import ImportJob, JobKind, utcnow
from store.errors import Conflict, TooManyRequests
from store.jobs import leases
from store.jobs.dispatch import Dispatcher
from store.jobs.queries import FINISHED, UNFINISHED, get_job, job_schema
from store.schemas import get_schema

SAMPLE_ROWS = 20
PREVIEW_SCAN_ROWS = 10_000  # rows a mapping preview reads at most, looking for its sample
RUNNING_IMPORTS_RETRY_SECONDS = 30  # imports take seconds to minutes: no use asking sooner


@dataclass(frozen=True)
class MappingPreview:
    columns: list[ColumnSuggestion]
    missing_required: list[str]
    encoding: str
    delimiter: str
    sample_rows: list[dict[str, str]]
    sheets: list[str]  # of an Excel workbook; [] for a CSV


def csv_limits(settings: Settings) -> CsvLimits:
    return CsvLimits(
        max_columns=settings.max_columns,
        max_field_chars=settings.max_field_chars,
        max_unpacked_bytes=settings.xlsx_max_unpacked_bytes,
        max_shared_strings=settings.xlsx_max_shared_strings,
        max_shared_string_bytes=settings.xlsx_max_shared_string_bytes,
    )


def upload_limits(settings: Settings, preview: bool = False) -> CsvLimits:
    """The limits of reading a file in the API: a time limit, and for a preview a bound on
    the rows read, blank ones included (a file of millions of blank rows costs nothing)."""
    return dataclasses.replace(
        csv_limits(settings),
        read_seconds=settings.file_read_seconds,
        scan_rows=PREVIEW_SCAN_ROWS if preview else None,
    )


def _read_sample(reader: TableReader) -> list[list[str]]:
    sample = []
    for row in reader:
        if row.error is None:
            sample.append(row.values)
        if len(sample) >= SAMPLE_ROWS:
            break
    return sample


def _header(
    upload: IO[bytes], delimiter: str | None, sheet: str | None, settings: Settings
) -> list[str]:
    start = upload.tell()
    header = open_table(
        upload, delimiter=delimiter, sheet=sheet, limits=upload_limits(settings, preview=True)
    )
    upload.seek(start)
    return header.header


async def _remembered_for(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    sheet: str | None,
    settings: Settings,
) -> RememberedMapping | None:
    """The mapping remembered for the file's header set (or a nearly-same one), if any."""
    header = await asyncio.to_thread(_header, upload, delimiter, sheet, settings)
    return await mappings.find(record_type, header)


def _suggestions(
    header: list[str],
    sample: list[list[str]],
    schema: RecordSchema,
    remembered: RememberedMapping | None,
) -> list[ColumnSuggestion]:
    suggested = suggest_mapping(header, sample, schema)
    return with_remembered(suggested, remembered, schema) if remembered else suggested


def _preview(
    upload: IO[bytes],
    schema: RecordSchema,
    delimiter: str | None,
    sheet: str | None,
    settings: Settings,
    remembered: RememberedMapping | None,
) -> MappingPreview:
    reader = open_table(
        upload, delimiter=delimiter, sheet=sheet, limits=upload_limits(settings, preview=True)
    )
    sample = _read_sample(reader)
    suggestions = _suggestions(reader.header, sample, schema, remembered)
    mapping = {s.column: s.field for s in suggestions if s.field is not None}
    return MappingPreview(
        columns=suggestions,
        missing_required=missing_required(mapping, schema),
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        sample_rows=[dict(zip(reader.header, values, strict=False)) for values in sample],
        sheets=reader.sheets if isinstance(reader, XlsxReader) else [],
    )


_previews_running: Counter[str] = Counter()  # per API key, in this process


async def preview_mapping(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    settings: Settings,
    sheet: str | None = None,
    created_by: str = "",
) -> MappingPreview:
    """The suggested mapping of a file. Reading a file costs CPU in a worker thread: a key
    may have MAX_MAPPING_PREVIEWS_PER_KEY of them running in one API process; 429 beyond."""
    if _previews_running[created_by] >= settings.max_mapping_previews_per_key:
        raise TooManyRequests(
            f"This API key has {_previews_running[created_by]} mapping previews running; at "
            f"most {settings.max_mapping_previews_per_key} at a time. Retry when one has "
            "finished.",
            retry_after=1,
        )
    _previews_running[created_by] += 1
    try:
        return await _preview_mapping(upload, record_type, delimiter, settings, sheet)
    finally:
        _previews_running[created_by] -= 1
        if not _previews_running[created_by]:
            del _previews_running[created_by]


async def _preview_mapping(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    settings: Settings,
    sheet: str | None,
) -> MappingPreview:
    schema = await get_schema(record_type)
    remembered = await _remembered_for(upload, record_type, delimiter, sheet, settings)
    # Reading and sniffing the file is CPU work: off the event loop, other requests go on.
    return await asyncio.to_thread(_preview, upload, schema, delimiter, sheet, settings, remembered)


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
    sample = _read_sample(reader)
    suggestions = _suggestions(reader.header, sample, schema, remembered)
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
    rest = itertools.islice(reader, max(0, settings.max_rows - len(sample) + 1))
    total = len(sample) + sum(1 for _ in rest)
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


ADMISSION_LEASE_SECONDS = 10.0  # a process that died holding a key's admission frees it then
ADMISSION_WAIT_SECONDS = 5.0


def _admissions() -> AsyncCollection[dict[str, Any]]:
    """One document per API key whose new import is being admitted, with its lease."""
    return db.database()["import_admissions"]


@asynccontextmanager
async def admitted(created_by: str, settings: Settings) -> AsyncIterator[None]:
    """The count of a key's unfinished imports and the insert of its new one, as one step:
    requests of one key that arrive together are admitted one at a time (a lease per key in
    MongoDB, shared by every API process), so no more than MAX_RUNNING_IMPORTS_PER_KEY get
    in. The body inserts the job."""
    admissions = _admissions()
    waited_until = time.monotonic() + ADMISSION_WAIT_SECONDS
    while True:
        until = leases.expiry(ADMISSION_LEASE_SECONDS)
        try:
            await admissions.find_one_and_update(
                {"_id": created_by, **leases.free("lease_until", utcnow())},
                {"$set": {"lease_until": until}},
                upsert=True,
            )
            break
        except DuplicateKeyError:  # another request of the key is being admitted
            if time.monotonic() > waited_until:
                raise TooManyRequests(
                    "Other imports of this API key are being started; retry in a moment.",
                    retry_after=1,
                ) from None
            await asyncio.sleep(0.02)
    try:
        await check_running_imports(created_by, settings)
        yield
    finally:
        await admissions.delete_one({"_id": created_by, "lease_until": until})


async def check_running_imports(created_by: str, settings: Settings) -> None:
    """A key with its share of imports pending or running waits (checked before any of the
    file is read, and again in `admitted`)."""
    running = await ImportJob.find(
        {"created_by": created_by, "status": {"$in": list(UNFINISHED)}}
    ).count()
    if running >= settings.max_running_imports_per_key:
        raise TooManyRequests(
            f"This API key has {running} imports pending or running; at most "
            f"{settings.max_running_imports_per_key} at a time. Retry when one has finished.",
            retry_after=RUNNING_IMPORTS_RETRY_SECONDS,
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
        remembered = await _remembered_for(
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
    **origin: Any,
) -> ImportJob:
    """Check the whole file, store it, create the job and enqueue its planning.
    A rejected file raises FileRejected and leaves nothing behind. A retry (`retry_of`)
    keeps the original's schema and mapping. Given `job_id` (an idempotent request, a
    schedule's run), an import that already has it is returned instead of a new one.
    `origin`: the job's `source`, `source_config` and `schedule_id`, if any."""
    if job_id is not None and (existing := await ImportJob.get(ObjectId(job_id))) is not None:
        return existing
    await check_running_imports(created_by, settings)
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
            async with admitted(created_by, settings):
                await job.insert()
    except DuplicateKeyError:
        if job_id is None:
            raise
        return await get_job(job_id)  # created meanwhile by the same request
    if retry_of is not None:
        await ImportJob.get_pymongo_collection().update_one(
            {"_id": retry_of.id}, {"$addToSet": {"retries": str(job.id)}}
        )
    dispatcher.plan(str(job.id))
    return job


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
    if original.kind is not JobKind.IMPORT:
        raise Conflict("Only an import can be retried")
    if original.status not in FINISHED:
        raise Conflict(
            f"Import {job_id} is {original.status.value}; retry its failed rows once it ends"
        )
    config = ImportConfig(
        record_type=original.record_type,
        deduplication_keys=original.deduplication_keys,
        action=Action(original.action),
        phone_default_region=original.phone_default_region,
        multi_value_separator=original.multi_value_separator,
        dry_run=original.dry_run,
        batch_size=original.batch_size,
    )
    return await create_job(
        upload,
        file_name,
        config,
        created_by.name,
        dispatcher,
        settings,
        created_by_key=created_by.key_id,
        retry_of=original,
        job_id=new_id,
    )
