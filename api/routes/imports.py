from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, Parameter
from litestar.response import Stream

from api.dependencies import InjectedDispatcher, InjectedSettings
from api.downloads import content_disposition
from api.paging import MAX_OFFSET
from api.security import IMPORTER, current_principal
from api.serializers import job_json
from domain.errors import InvalidRequest
from domain.import_config import ImportConfig
from store import jobs
from store.documents import JobStatus
from store.reports import REPORT_CONTENT_TYPE

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def _upload(data: dict[str, Any]) -> UploadFile:
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Send the CSV as the multipart field 'file'")
    return upload


def _config(data: dict[str, Any]) -> ImportConfig:
    raw = data.get("config")
    if raw is None:
        raise InvalidRequest("Send the import settings as the multipart field 'config' (JSON)")
    try:
        parsed = json.loads(raw if isinstance(raw, str) else raw.file.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"'config' is not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidRequest("'config' is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("'config' must be a JSON object")
    return ImportConfig.model_validate(parsed)


class ImportController(Controller):
    path = "/imports"
    tags = ["imports"]

    @post("/mapping", opt=IMPORTER, status_code=200)
    async def suggest_mapping(self, data: Multipart, settings: InjectedSettings) -> dict[str, Any]:
        upload = _upload(data)
        record_type = str(data.get("recordType") or "customers")
        delimiter = data.get("delimiter") or None
        preview = await jobs.preview_mapping(upload.file, record_type, delimiter, settings)
        return {
            "columns": [asdict(c) for c in preview.columns],
            "missingRequired": preview.missing_required,
            "encoding": preview.encoding,
            "delimiter": preview.delimiter,
            "sampleRows": preview.sample_rows,
        }

    @post("/", opt=IMPORTER, status_code=202)
    async def create(
        self,
        data: Multipart,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
    ) -> dict[str, Any]:
        upload = _upload(data)
        config = _config(data)
        job = await jobs.create_job(
            upload.file,
            upload.filename or "upload.csv",
            config,
            current_principal(request).name,
            dispatcher,
            settings,
        )
        return {"id": str(job.id), "status": job.status.value}

    @get("/")
    async def list_jobs(
        self,
        status: FromQuery[JobStatus | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        found, total = await jobs.list_jobs(status, limit, offset)
        return {"items": [job_json(job) for job in found], "total": total}

    @get("/{job_id:str}")
    async def get_job(self, job_id: FromPath[str]) -> dict[str, Any]:
        return job_json(await jobs.get_job(job_id))

    @post("/{job_id:str}/cancel", opt=IMPORTER, status_code=200)
    async def cancel(self, job_id: FromPath[str]) -> dict[str, Any]:
        return job_json(await jobs.cancel_job(job_id))

    @get("/{job_id:str}/report")
    async def report(self, job_id: FromPath[str], settings: InjectedSettings) -> Response[Any]:
        job, chunks = await jobs.report_stream(job_id, settings)
        name = job.file_name.rsplit(".", 1)[0] + "-report.xlsx"
        return Stream(
            chunks,
            media_type=REPORT_CONTENT_TYPE,
            headers={"Content-Disposition": content_disposition(name)},
        )

    @get("/{job_id:str}/failed-rows.csv")
    async def failed_rows(self, job_id: FromPath[str], settings: InjectedSettings) -> Response[Any]:
        job, chunks = await jobs.failed_rows(job_id, settings)
        name = job.file_name.rsplit(".", 1)[0] + "-failed-rows.csv"
        return Stream(
            chunks,
            media_type="text/csv",  # Stream adds "; charset=utf-8"
            headers={"Content-Disposition": content_disposition(name)},
        )
