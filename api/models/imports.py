"""Bodies of the import routes: the mapping suggestion, a job, a page of jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from api.models.base import CamelStruct

JobStatusName = Literal["pending", "in_progress", "completed", "failed", "cancelled"]


class ColumnSuggestion(CamelStruct):
    column: str
    field: str | None
    method: str
    confidence: float


class ProposedAttribute(CamelStruct):
    key: str
    type: str


class MappingCheck(CamelStruct):
    """The mapping sent as `chosenMapping`, checked against the schema: the mandatory
    attributes it lacks, the single-value ones it maps several columns to, the sample rows
    as it would import them (attribute key → values, not validated yet), and for each column
    it does not import the attribute an admin may create from it."""

    missing_required: list[str]
    mapped_twice: dict[str, list[str]]
    preview_rows: list[dict[str, list[str]]]
    proposed_attributes: dict[str, ProposedAttribute]


class MappingSuggestion(CamelStruct, omit_defaults=True):
    columns: list[ColumnSuggestion]
    missing_required: list[str]
    encoding: str
    delimiter: str
    sample_rows: list[dict[str, str]]
    sheets: list[str]  # an Excel workbook's sheets; [] for a CSV
    confidence_bar: float  # a suggestion less confident than this needs a person's eye
    chosen_mapping: MappingCheck | None = None  # when the request sent one


class JobCreated(CamelStruct):
    id: str
    status: JobStatusName


class JobProgress(CamelStruct):
    processed_rows: int
    total_rows: int


class JobCounts(CamelStruct):
    total: int
    imported: int
    updated: int
    ignored: int
    failed: int


class RevertCounts(CamelStruct):
    """What a revert did: customers it deleted (the import inserted them), restored (to
    their pre-images), and left as they were because they changed since (conflicts)."""

    total: int
    deleted: int
    restored: int
    conflicts: int


class S3Object(CamelStruct):
    bucket: str
    key: str


class ImportSource(CamelStruct, omit_defaults=True):
    """Where a job's file came from, when not uploaded: `url` or `s3`."""

    url: str | None = None
    s3: S3Object | None = None


class Job(CamelStruct):
    id: str
    kind: Literal["import", "revert"]
    status: JobStatusName
    file_name: str
    record_type: str
    action: str
    deduplication_keys: list[str]
    mapping: dict[str, str]
    dry_run: bool
    created_by: str
    # The key that created it (as GET /auth/me names keys): it, or an admin, may act on it.
    created_by_key_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: JobProgress
    # Rows read and checked by the planning, before any is processed (progress.processedRows
    # counts processed rows): the job's first step, seconds long for a big file.
    checked_rows: int
    counts: JobCounts
    error: str | None
    # Whether GET /imports/{id}/report has the report: "ready"; "coming" while the job runs, or
    # a cancelled import's is being built (wait for it); "none" when none will come.
    report_status: Literal["ready", "coming", "none"]
    retry_of: str | None  # the import whose corrected failed rows this one imports
    retries: list[str]  # the imports that retried this one's failed rows
    resume_of: str | None  # a resume: the cancelled or failed import whose rows it continues
    resumed_by: str | None  # a cancelled or failed import: its resume, once asked for
    revert_of: str | None  # a revert: the import it undoes
    revert_counts: RevertCounts | None  # a revert's own counts
    revert_id: str | None  # an import: its revert, once asked for
    reverted_by: str | None
    reverted_at: datetime | None
    source: ImportSource | None  # a remote source's import: where its file came from
    schedule_id: str | None  # a schedule's run: the schedule


class JobPage(CamelStruct):
    items: list[Job]
    total: int
