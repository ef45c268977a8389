"""Beanie documents. Customers keep their schema attributes under `attributes`, so that
attribute keys never collide with bookkeeping fields."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import bson
from beanie import Document
from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, IndexModel

from config import logs


def utcnow() -> datetime:
    return datetime.now(UTC)


class Customer(Document):
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    rev: int = 0  # bumped on every write: optimistic concurrency between imports
    # The import (its id) or bulk request that wrote the customer last: a revert restores
    # only customers its import wrote last (store.customers.preimages).
    written_by: str | None = None

    class Settings:
        name = "customers"
        # No secondary index: each costs on every insert. Identifier values are unique and
        # found through their claims (store.customers.claims); lists are ordered by `_id`, which
        # follows creation time.


class SchemaDocument(Document):
    id: str  # type: ignore[assignment]  # the record type, e.g. "customers"
    attributes: list[dict[str, Any]]
    version: int = 1  # one more on every accepted change (store.schema_changes); the ETag
    # What the last change still has to do to the values customers hold, until it is done.
    migration: dict[str, Any] | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "record_schemas"


class Role(StrEnum):
    VIEWER = "viewer"
    IMPORTER = "importer"
    ADMIN = "admin"


class ApiKey(Document):
    key_hash: str
    name: str
    role: Role
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None  # from then on the key and its sessions get 401

    class Settings:
        name = "api_keys"
        indexes = [IndexModel([("key_hash", ASCENDING)], unique=True)]


class SignInSession(Document):
    """A signed-in browser: the UI holds its token in an HttpOnly cookie, never the API key.
    `_id` is the token's hash; the key it was opened with lends it its name and role."""

    id: str  # type: ignore[assignment]
    name: str
    role: Role
    key_id: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "sign_in_sessions"


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
    def of(cls, results: Sequence[RowResultRecord]) -> Counts:
        counts = cls(total=len(results))
        for result in results:
            setattr(counts, result.outcome, getattr(counts, result.outcome) + 1)
        return counts


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


def pack(items: Sequence[BaseModel | dict[str, Any]]) -> bytes:
    """Rows or results as one compressed BSON blob: a batch document stays about a tenth of
    the size, and reading or updating it does not decode a thousand subdocuments."""
    plain = [i.model_dump() if isinstance(i, BaseModel) else i for i in items]
    return zlib.compress(bson.encode({"items": plain}), 1)


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
    status: BatchStatus = BatchStatus.PENDING
    attempts: int = 0
    lease_until: datetime | None = None  # until when a worker holds it (store.jobs.leases)
    packed_results: bytes | None = None  # RowResultRecord items
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


class Webhook(Document):
    """A receiver of import events (DESIGN.md §7); its secret signs every message."""

    url: str
    events: list[str]
    description: str = ""
    secret: str  # whsec_…: shown once, when created; kept to sign
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "webhooks"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Document):
    """One message to one webhook, and its attempts. `_id` is the message's `webhook-id`,
    made from the webhook, the event and the import: an event announced twice is one
    delivery."""

    id: str  # type: ignore[assignment]
    webhook_id: str
    event: str
    import_id: str | None = None
    payload: bytes  # the body, the same on every attempt
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    lease_until: datetime | None = None  # an attempt under way (store.jobs.leases)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "webhook_deliveries"
        indexes = [
            IndexModel([("webhook_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        ]


class Schedule(Document):
    """A recurring import (DESIGN.md §7): a remote source imported with `config` at each time
    its cron expression matches in its zone."""

    name: str
    source: dict[str, Any]  # domain.remote.Source
    config: dict[str, Any]  # the import config (camelCase), without its source
    cron: str
    timezone: str
    enabled: bool = True
    skip_unchanged: bool = False
    next_run_at: datetime | None = None  # None while disabled
    # {"at", "import_id", "skipped"}: the last run (the import's status is read from it).
    last_run: dict[str, Any] | None = None
    # The import of the last run that made one (no two run at once), and the version of
    # the source it imported (skipUnchanged compares with it).
    last_import_id: str | None = None
    last_version: dict[str, Any] | None = None
    created_by: str = ""
    created_by_key: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "schedules"
        indexes = [IndexModel([("enabled", ASCENDING), ("next_run_at", ASCENDING)])]


class ScheduleRun(Document):
    """One due time of a schedule. `_id` is "<schedule id>@<due time>": however many
    processes find the schedule due, one inserts the run and the others cannot."""

    id: str  # type: ignore[assignment]
    schedule_id: str
    due_at: datetime
    import_id: str  # given before the import is made: a run done twice makes it once
    done: bool = False
    skipped: str | None = None  # "unchanged" or "overlap"
    attempts: int = 0
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "schedule_runs"
        indexes = [IndexModel([("done", ASCENDING)])]


class AuditActor(BaseModel):
    """Who acted: the API key (its id, never the key), its name and role. A schedule's run
    acts for the schedule's creator, whose role is not known then (None)."""

    key_id: str | None
    name: str
    role: str | None


class AuditEvent(Document):
    """One entry of the audit trail (store.audit): inserted, never changed."""

    id: str  # type: ignore[assignment]
    at: datetime = Field(default_factory=utcnow)
    actor: AuditActor
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "audit_events"
        indexes = [
            IndexModel([("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("actor.key_id", ASCENDING), ("at", DESCENDING)]),
        ]


DOCUMENT_MODELS: list[type[Document]] = [
    Customer,
    SchemaDocument,
    ApiKey,
    SignInSession,
    ImportJob,
    ImportBatch,
    Webhook,
    WebhookDelivery,
    Schedule,
    ScheduleRun,
    AuditEvent,
]
