"""Schedules (DESIGN.md §7): recurring imports of a URL or S3 source at the times of a cron
expression in an IANA time zone; importers create them and run them now."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, Parameter
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from api.bodies import parse_json
from api.dependencies import InjectedDispatcher, InjectedSettings
from api.models.imports import JobCreated
from api.models.schedules import LastRun, ScheduleBody, SchedulePage
from api.openapi import errors, model_schema, request_body
from api.paging import MAX_OFFSET
from api.security import IMPORTER, current_principal
from api.serializers import source_body
from domain.cron import time_zones
from domain.import_config import ImportConfig
from domain.remote import Source
from store import schedules

CRON_HELP = "Five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'"
ZONES: JsonDict = {"enum": list(time_zones())}


class NewSchedule(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    source: Source
    config: ImportConfig
    cron: str = Field(max_length=100, description=CRON_HELP)
    timezone: str = Field(max_length=64, json_schema_extra=ZONES)
    enabled: bool = True
    skip_unchanged: bool = False


class ScheduleEdit(BaseModel):
    """Any field of a schedule; those left out stay as they are."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    source: Source | None = None
    config: ImportConfig | None = None
    cron: str | None = Field(default=None, max_length=100, description=CRON_HELP)
    timezone: str | None = Field(default=None, max_length=64, json_schema_extra=ZONES)
    enabled: bool | None = None
    skip_unchanged: bool | None = None


NEW_BODY = request_body(model_schema(NewSchedule), "application/json")
EDIT_BODY = request_body(model_schema(ScheduleEdit), "application/json")


def _fields(model: BaseModel) -> dict[str, Any]:
    """The given fields, as the schedule stores them (source and config as JSON values)."""
    fields: dict[str, Any] = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        if name == "source" and value is not None:
            value = value.model_dump(exclude_none=True)
        elif name == "config" and value is not None:
            value = value.model_dump(by_alias=True, exclude_none=True, mode="json")
        if value is not None:
            fields[name] = value
    return fields


def _body(view: schedules.ScheduleView) -> ScheduleBody:
    schedule, run = view.schedule, view.schedule.last_run
    source = source_body(schedule.source)
    assert source is not None
    return ScheduleBody(
        id=str(schedule.id),
        name=schedule.name,
        source=source,
        config=schedule.config,
        cron=schedule.cron,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
        skip_unchanged=schedule.skip_unchanged,
        next_run_at=schedule.next_run_at,
        last_run=None
        if run is None
        else LastRun(
            at=run["at"],
            import_id=run.get("import_id"),
            status=view.last_status,  # type: ignore[arg-type]
            skipped=run.get("skipped"),
        ),
        created_by=schedule.created_by,
        created_at=schedule.created_at,
    )


class ScheduleController(Controller):
    path = "/schedules"
    tags = ["schedules"]

    @post(
        "/",
        opt=IMPORTER,
        status_code=201,
        operation_class=NEW_BODY,
        responses=errors(404, 422),
        summary="Create a schedule: its source imported with its config at each time its cron "
        "expression matches in its time zone",
    )
    async def create(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> ScheduleBody:
        new = parse_json(await request.body(), NewSchedule, settings.max_json_depth)
        principal = current_principal(request)
        created = await schedules.create(_fields(new), principal, settings)
        return _body(await schedules.view(created))

    @get("/", responses=errors(), summary="The schedules, with their next and last runs")
    async def list_schedules(
        self,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> SchedulePage:
        found, total = await schedules.listed(limit, offset)
        return SchedulePage(items=[_body(view) for view in found], total=total)

    @get("/{schedule_id:str}", responses=errors(404), summary="One schedule")
    async def get_schedule(self, schedule_id: FromPath[str]) -> ScheduleBody:
        return _body(await schedules.view(await schedules.get(schedule_id)))

    @patch(
        "/{schedule_id:str}",
        opt=IMPORTER,
        operation_class=EDIT_BODY,
        responses=errors(404, 422),
        summary="Change any field of a schedule (admin or its creator)",
    )
    async def edit(
        self,
        schedule_id: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
    ) -> ScheduleBody:
        change = parse_json(await request.body(), ScheduleEdit, settings.max_json_depth)
        principal = current_principal(request)
        changed = await schedules.update(
            schedule_id, schedules.ScheduleChange(_fields(change)), principal, settings
        )
        return _body(await schedules.view(changed))

    @delete(
        "/{schedule_id:str}",
        opt=IMPORTER,
        status_code=204,
        responses=errors(404),
        summary="Delete a schedule (admin or its creator); its imports stay",
    )
    async def remove(self, schedule_id: FromPath[str], request: Request) -> None:  # type: ignore[type-arg]
        await schedules.delete(schedule_id, current_principal(request))

    @post(
        "/{schedule_id:str}/run",
        opt=IMPORTER,
        status_code=202,
        responses=errors(404, 409, 422),
        summary="Run the schedule now: an import of its source, answered with the import",
    )
    async def run(
        self,
        schedule_id: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        dispatcher: InjectedDispatcher,
    ) -> JobCreated:
        principal = current_principal(request)
        job = await schedules.run_now(schedule_id, principal, dispatcher, settings)
        return JobCreated(id=str(job.id), status=job.status.value)
