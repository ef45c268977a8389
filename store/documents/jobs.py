"""Import jobs (imports and reverts) and their batches: a batch's rows and results are kept
packed (`pack`), one compressed blob per batch."""

from __future__ import annotations

import collections
import struct
import zlib
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import bson
from beanie import Document
from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, IndexModel

from config import logs
from store.documents.clock import utcnow


class JobStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Counts(BaseModel):
    total: int = 0
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    failed: int = 0

    @classmethod
    def of(cls, outcomes: Sequence[str]) -> Counts:
        """The counts of rows with these `outcomes` (RowResultRecord.outcome values)."""
        counted = collections.Counter(outcomes)
        unknown = set(counted) - (set(cls.model_fields) - {"total"})
        if unknown:
            raise ValueError(f"not an outcome: {', '.join(sorted(unknown))}")
        return cls(total=len(outcomes), **counted)


class JobKind(StrEnum):
    IMPORT = "import"
    REVERT = "revert"  # undoes an import (store.jobs.revert)


class RevertCounts(BaseModel):
    total: int = 0  # customers the import inserted or changed
    deleted: int = 0
    restored: int = 0
    conflicts: int = 0


class ImportJob(Document):
    status: JobStatus = JobStatus.PENDING
    kind: JobKind = JobKind.IMPORT
    file_name: str
    file_id: Any  # GridFS id of the uploaded file
    file_size: int = 0
    record_type: str = "customers"
    action: str
    deduplication_keys: list[str]
    mapping: dict[str, str]  # column → attribute key, as resolved at upload
    header: list[str]
    schema_attributes: list[dict[str, Any]]  # the schema as it was at upload
    phone_default_region: str | None = None
    multi_value_separator: str = "|"
    delimiter: str = ","
    encoding: str = "utf-8"  # "xlsx" for an Excel workbook
    sheet: str | None = None  # the workbook's sheet read; None: the first (or a CSV)
    dry_run: bool = False
    batch_size: int | None = None  # None: the BATCH_SIZE setting
    created_by: str = ""
    created_by_key: str | None = None  # names the API key (store.auth.Principal.key_id)
    created_at: datetime = Field(default_factory=utcnow)
    # The X-Request-ID of the request that made the job (None for a schedule's): a step the
    # recovery check sends again carries it, as the first message did (workers.step_context).
    request_id: str | None = Field(default_factory=lambda: logs.current("requestId"))
    retry_of: str | None = None  # the import whose corrected failed rows this one imports
    # A remote source (domain.remote.Source as a dict): the job fetches its file, then
    # checks it with `source_config` (the import config as given) as an upload is checked.
    source: dict[str, Any] | None = None
    source_config: dict[str, Any] | None = None
    schedule_id: str | None = None  # the schedule whose run this import is
    # Set when the job ends (or, cancelled, has its report): its webhook event is owed, and
    # the recovery check announces it (store.webhooks.events), then clears this.
    announce: bool | None = None
    retries: list[str] = Field(default_factory=list)  # the imports that retried this one's
    # A resume imports the rows a cancelled or failed import did not process
    # (store.jobs.resume); the original names it.
    resume_of: str | None = None
    resumed_by: str | None = None
    # A revert job: the import it undoes, and its results. An import: its revert, if any.
    revert_of: str | None = None
    revert_counts: RevertCounts | None = None
    revert_id: str | None = None
    reverted_by: str | None = None
    reverted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    processed_rows: int = 0
    total_rows: int = 0
    checked_rows: int = 0  # rows planning has read and validated so far
    batch_count: int | None = None  # set once planning has stored every batch
    # Batches whose results are in `counts`: each is added once, with its counts, in one
    # update of this document, so a batch delivered twice is counted once.
    counted_batches: list[int] = Field(default_factory=list)
    batches_done: int = 0
    planned_at: datetime | None = None
    batches_done_at: datetime | None = None
    counts: Counts = Field(default_factory=Counts)
    error: str | None = None
    report_file_id: Any = None
    # Leases (store.jobs.leases): until when a worker holds the planning, the report, or a
    # revert job's one step (store.jobs.steps names these fields).
    plan_lease_until: datetime | None = None
    finalizing_until: datetime | None = None
    revert_lease_until: datetime | None = None
    # Deliveries of each of those steps that started: counted here, not in the broker, so
    # a delivery that kills its worker every time still ends the job.
    plan_attempts: int = 0
    finalize_attempts: int = 0
    revert_attempts: int = 0

    class Settings:
        name = "import_jobs"
        indexes = [
            IndexModel([("created_at", DESCENDING)]),
            IndexModel([("status", ASCENDING)]),
            IndexModel([("announce", ASCENDING)], sparse=True),
            IndexModel([("schedule_id", ASCENDING)], sparse=True),
        ]


class BatchStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class BatchRow(BaseModel):
    number: int  # data row number in the file
    line: int  # line of the file where the row starts
    raw: list[str]  # the original cells, in header order
    values: dict[str, Any] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)


class RowResultRecord(BaseModel):
    number: int
    outcome: str
    reason: str | None = None
    customer_id: str | None = None
    changes: list[tuple[str, Any, Any]] = Field(default_factory=list)  # an update's, per field


_BSON_LENGTH = struct.Struct("<i")  # a BSON document's first field: its size in bytes


def pack(items: Sequence[BaseModel | dict[str, Any]]) -> bytes:
    """Rows or results as one compressed BSON blob: a batch document stays about a tenth of
    the size, and reading or updating it does not decode a thousand subdocuments."""
    plain = [i.model_dump() if isinstance(i, BaseModel) else i for i in items]
    return zlib.compress(bson.encode({"items": plain}), 1)


def pack_encoded(documents: Sequence[bytes]) -> bytes:
    """`pack` of items that are BSON documents already (each as `bson.encode` gives it): the
    same bytes as `pack` of the decoded items, without decoding and encoding them again."""
    array = b"".join(
        b"\x03" + str(index).encode() + b"\x00" + document
        for index, document in enumerate(documents)
    )
    items = b"\x04items\x00" + _BSON_LENGTH.pack(len(array) + 5) + array + b"\x00"
    return zlib.compress(_BSON_LENGTH.pack(len(items) + 5) + items + b"\x00", 1)


def unpack(blob: bytes | None) -> list[dict[str, Any]]:
    if not blob:
        return []
    items: list[dict[str, Any]] = bson.decode(zlib.decompress(blob))["items"]
    return items


class ImportBatch(Document):
    id: str  # type: ignore[assignment]  # "<job id>-<seq>": planning twice writes the same ids
    job_id: str
    seq: int
    row_count: int = 0
    # Rows that reach existing customers, as planning found the claims of the file's values
    # (store.jobs.holders): a batch of mostly such rows reads the claims first instead of
    # trying to take them (store.jobs.batches). None: planned before it was counted.
    held_rows: int | None = None
    first_row: int = 0
    last_row: int = 0
    packed_rows: bytes = b""  # BatchRow items, see `pack`
    # The claims planning read for the values of the batch's rows ({"_id", "c", "n", "w"}
    # items; a value without one had no claim then): the batch's first round resolves with
    # them instead of reading them again (store.customers.reading). None: not kept.
    packed_claims: bytes | None = None
    # When planning began reading those claims, by the server's clock (None: planned before
    # it was kept): a claim whose writer had finished by then said the truth when read.
    claims_read_at: datetime | None = None
    status: BatchStatus = BatchStatus.PENDING
    attempts: int = 0
    lease_until: datetime | None = None  # until when a worker holds it (store.jobs.leases)
    packed_results: bytes | None = None  # RowResultRecord items
    # What the report shows of each row with its result (store.reports.rows.pack_details);
    # None: not kept (a failed batch), the report works it out from the rows and results.
    packed_details: bytes | None = None
    counts: Counts = Field(default_factory=Counts)
    error: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "import_batches"
        indexes = [
            IndexModel([("job_id", ASCENDING), ("seq", ASCENDING)]),
            IndexModel([("job_id", ASCENDING), ("status", ASCENDING)]),
        ]

    @model_validator(mode="before")
    @classmethod
    def _pack_lists(cls, data: Any) -> Any:
        """Accept `rows` and `results` as lists (and pack them)."""
        if not isinstance(data, dict) or ("rows" not in data and "results" not in data):
            return data
        data = dict(data)
        if "rows" in data:
            rows = data.pop("rows")
            # The rows as a person finds them in the file: spreadsheet rows (header = 1).
            lines = [r.line if isinstance(r, BatchRow) else r["line"] for r in rows]
            data["packed_rows"] = pack(rows)
            data["row_count"] = len(rows)
            data["first_row"] = min(lines, default=0)
            data["last_row"] = max(lines, default=0)
        if "results" in data:
            data["packed_results"] = pack(data.pop("results"))
        return data

    @property
    def rows(self) -> list[BatchRow]:
        return [BatchRow.model_validate(r) for r in unpack(self.packed_rows)]

    @property
    def results(self) -> list[RowResultRecord]:
        return [RowResultRecord.model_validate(r) for r in unpack(self.packed_results)]
