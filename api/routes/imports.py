from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter
from litestar.response import Stream

from api.dependencies import InjectedDispatcher, InjectedSettings
from api.downloads import content_disposition
from api.idempotency import REPLAY_HEADERS, IdempotencyKey, Part, answer_once
from api.import_forms import (
    IMPORT_FORM,
    MAPPING_FORM,
    RETRY_FORM,
    Multipart,
    checked_mapping,
    config_text,
    file_name,
    parse_config,
    text_field,
    upload_of,
    upload_unless_source,
)
from api.models.imports import (
    ColumnSuggestion,
    JobCreated,
    JobPage,
    MappingSuggestion,
)
from api.models.imports import Job as JobBody
from api.openapi import errors
from api.paging import MAX_OFFSET, moment
from api.security import IMPORTER, current_principal
from api.serializers import job_body
from config import Settings
from domain.mapping import CONFIDENCE_BAR
from store import jobs
from store.documents import ImportJob, JobStatus
from store.reports import REPORT_CONTENT_TYPE


async def _started_once(
    request: Request,  # type: ignore[type-arg]
    idempotency_key: str | None,
    settings: Settings,
    parts: list[Part],
    start: Callable[[str | None], Awaitable[ImportJob]],
) -> Response[JobCreated]:
    """202 with the job `start(job_id)` starts, once per Idempotency-Key (api.idempotency):
    `job_id` is the id to give the job, None without a key."""

    async def act(job_id: str | None) -> JobCreated:
        job = await start(job_id)
        return JobCreated(id=str(job.id), status=job.status.value)

    return await answer_once(request, idempotency_key, settings, parts, 202, act)


class ImportController(Controller):
    path = "/imports"
    tags = ["imports"]

    @post(
        "/mapping",
        opt=IMPORTER,
        status_code=200,
        operation_class=MAPPING_FORM,
        responses=errors(404, 413, 422),
        summary="Suggest a mapping of the file's columns to the schema",
    )
    async def suggest_mapping(
        self,
        data: Multipart,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> MappingSuggestion:
        upload = upload_of(data)
        record_type = text_field(data, "recordType") or "customers"
        delimiter = text_field(data, "delimiter")
        sheet = text_field(data, "sheet")
        preview = await jobs.preview_mapping(
            upload.file,
            record_type,
            delimiter,
            settings,
            sheet=sheet,
            created_by=current_principal(request).name,
        )
        return MappingSuggestion(
            columns=[ColumnSuggestion(**asdict(c)) for c in preview.columns],
            missing_required=preview.missing_required,
            encoding=preview.encoding,
            delimiter=preview.delimiter,
            sample_rows=preview.sample_rows,
            sheets=preview.sheets,
            confidence_bar=CONFIDENCE_BAR,
            chosen_mapping=await checked_mapping(data, record_type, preview.sample_rows, settings),
        )

    @post(
        "/",
        opt=IMPORTER,
        status_code=202,
        operation_class=IMPORT_FORM,
        responses=errors(404, 409, 413, 422),
        response_headers=REPLAY_HEADERS,
        summary="Start an import of a CSV file or an Excel workbook, uploaded or fetched by the "
        "job from config.source (a URL or an S3 object)",
    )
    async def create(
        self,
        data: Multipart,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobCreated]:
        text = config_text(data)
        config = parse_config(text, settings)
        upload = upload_unless_source(data, config)
        principal = current_principal(request)

        async def start(job_id: str | None) -> ImportJob:
            if upload is None:
                return await jobs.create_source_job(
                    config,
                    principal.name,
                    dispatcher,
                    settings,
                    principal.key_id,
                    job_id,
                    creator_role=principal.role.value,
                )
            return await jobs.create_job(
                upload.file,
                file_name(upload, "upload.csv"),
                config,
                principal.name,
                dispatcher,
                settings,
                created_by_key=principal.key_id,
                job_id=job_id,
                creator_role=principal.role.value,
            )

        parts: list[Part] = [text, *([upload.file] if upload else [])]
        return await _started_once(request, idempotency_key, settings, parts, start)

    @get("/", responses=errors(), summary="The imports, newest first, filtered and paged")
    async def list_jobs(
        self,
        status: FromQuery[JobStatus | None] = None,
        created_by: Annotated[str | None, QueryParameter(name="createdBy", max_length=100)] = None,
        created_from: Annotated[
            str | None, QueryParameter(name="createdFrom", format="date-time")
        ] = None,
        created_to: Annotated[
            str | None, QueryParameter(name="createdTo", format="date-time")
        ] = None,
        file_name: Annotated[str | None, QueryParameter(name="fileName", max_length=200)] = None,
        dry_run: Annotated[
            bool | None,
            QueryParameter(
                name="dryRun", description="true: only dry runs (checks); false: only imports"
            ),
        ] = None,
        has_failed_rows: Annotated[
            bool | None,
            QueryParameter(
                name="hasFailedRows",
                description="true: only imports with failed rows; false: only those without",
            ),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> JobPage:
        since, until = moment("createdFrom", created_from), moment("createdTo", created_to)
        which = jobs.JobFilter(
            status, created_by, since, until, file_name, dry_run, has_failed_rows
        )
        found, total = await jobs.list_jobs(which, limit, offset)
        return JobPage(items=[job_body(job) for job in found], total=total)

    @get("/{job_id:str}", responses=errors(404), summary="One import")
    async def get_job(self, job_id: FromPath[str]) -> JobBody:
        return job_body(await jobs.get_job(job_id))

    @post(
        "/{job_id:str}/cancel",
        opt=IMPORTER,
        status_code=200,
        responses=errors(404, 409),
        summary="Stop a pending or running import; rows already written stay",
    )
    async def cancel(
        self,
        job_id: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        dispatcher: InjectedDispatcher,
    ) -> JobBody:
        return job_body(await jobs.cancel_job(job_id, current_principal(request), dispatcher))

    @post(
        "/{job_id:str}/retry",
        opt=IMPORTER,
        status_code=202,
        operation_class=RETRY_FORM,
        responses=errors(404, 409, 413, 422),
        response_headers=REPLAY_HEADERS,
        summary="Import corrected failed rows (CSV or .xlsx) with the original's settings and "
        "mapping, as a new import linked by retryOf",
    )
    async def retry(
        self,
        job_id: FromPath[str],
        data: Multipart,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobCreated]:
        upload = upload_of(data)
        return await _started_once(
            request,
            idempotency_key,
            settings,
            [upload.file],
            lambda new_id: jobs.create_retry(
                job_id,
                upload.file,
                file_name(upload, "corrected.csv"),
                current_principal(request),
                dispatcher,
                settings,
                new_id,
            ),
        )

    @post(
        "/{job_id:str}/resume",
        opt=IMPORTER,
        status_code=202,
        responses=errors(404, 409, 410, 422),
        response_headers=REPLAY_HEADERS,
        summary="Continue a cancelled or failed import from the rows it did not process, as a "
        "new import with the same settings and mapping, linked by resumeOf; 409 for an import "
        "that is not cancelled or failed, already resumed, or has no row left",
    )
    async def resume(
        self,
        job_id: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobCreated]:
        principal = current_principal(request)
        return await _started_once(
            request,
            idempotency_key,
            settings,
            [],
            lambda new_id: jobs.create_resume(job_id, principal, dispatcher, settings, new_id),
        )

    @post(
        "/{job_id:str}/revert",
        opt=IMPORTER,
        status_code=202,
        responses=errors(404, 409, 410, 422),
        response_headers=REPLAY_HEADERS,
        summary="Undo a finished import: its inserts deleted, its changes restored, conflicts "
        "reported; the revert is a job of its own",
    )
    async def revert(
        self,
        job_id: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[JobCreated]:
        principal = current_principal(request)
        return await _started_once(
            request,
            idempotency_key,
            settings,
            [],
            lambda _: jobs.start_revert(job_id, principal, dispatcher),
        )

    @get(
        "/{job_id:str}/report",
        media_type=REPORT_CONTENT_TYPE,
        responses=errors(404, 409, 410),
        summary="The Excel results report of a finished import (or of a revert)",
    )
    async def report(self, job_id: FromPath[str], settings: InjectedSettings) -> Response[Any]:
        job, chunks = await jobs.report_stream(job_id, settings)
        name = job.file_name.rsplit(".", 1)[0] + "-report.xlsx"
        return Stream(
            chunks,
            media_type=REPORT_CONTENT_TYPE,
            headers={"Content-Disposition": content_disposition(name)},
        )

    @get(
        "/{job_id:str}/failed-rows.csv",
        media_type="text/csv",
        responses=errors(404, 409, 410),
        summary="The rows that failed, with their reasons, as a CSV to fix and import again",
    )
    async def failed_rows(self, job_id: FromPath[str], settings: InjectedSettings) -> Response[Any]:
        job, chunks = await jobs.failed_rows(job_id, settings)
        name = job.file_name.rsplit(".", 1)[0] + "-failed-rows.csv"
        return Stream(
            chunks,
            media_type="text/csv",  # Stream adds "; charset=utf-8"
            headers={"Content-Disposition": content_disposition(name)},
        )
