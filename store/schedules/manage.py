"""Creating, changing, listing and deleting schedules, and running one now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from config import Settings
from domain import cron
from domain.audit import AuditAction
from domain.errors import Unprocessable
from domain.import_config import ImportConfig
from domain.remote import Source
from store import audit, outbound
from store.audit import Target
from store.documents import ImportJob, Schedule, utcnow
from store.errors import Conflict, NotFound
from store.jobs.dispatch import Dispatcher
from store.jobs.remote import create_source_job
from store.jobs.states import UNFINISHED
from store.principal import Principal
from store.schemas import get_schema


@dataclass(frozen=True)
class ScheduleChange:
    """The fields a request gives (PATCH: only those it names)."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class ScheduleView:
    schedule: Schedule
    last_status: str | None  # the last run's import's status, or "skipped"


def config_of(schedule: Schedule) -> ImportConfig:
    """The import config of the schedule's runs: its config with its source."""
    return ImportConfig.model_validate({**schedule.config, "source": schedule.source})


async def _checked(schedule: Schedule, settings: Settings) -> Schedule:
    cron.check(schedule.cron, schedule.timezone)
    config = config_of(schedule)
    schema = await get_schema(config.record_type)
    schema.check_deduplication_keys(config.deduplication_keys)
    source = Source.model_validate(schedule.source)
    if source.url is not None:
        await outbound.check_url(source.url, settings)
    schedule.next_run_at = (
        cron.next_run(schedule.cron, schedule.timezone, utcnow()) if schedule.enabled else None
    )
    return schedule


async def create(fields: dict[str, Any], principal: Principal, settings: Settings) -> Schedule:
    if fields.get("config", {}).get("source") is not None:
        raise Unprocessable("Give the schedule's source as 'source', not inside 'config'")
    schedule = Schedule(**fields, created_by=principal.name, created_by_key=principal.key_id)
    await (await _checked(schedule, settings)).insert()
    details = {"name": schedule.name, "cron": schedule.cron, "timezone": schedule.timezone}
    await audit.record(AuditAction.SCHEDULE_CREATED, principal, _target(schedule), details)
    return schedule


def _target(schedule: Schedule) -> Target:
    return Target("schedule", str(schedule.id))


async def get(schedule_id: str) -> Schedule:
    try:
        schedule = await Schedule.get(ObjectId(schedule_id))
    except InvalidId:
        schedule = None
    if schedule is None:
        raise NotFound(f"No schedule with id {schedule_id!r}")
    return schedule


async def update(
    schedule_id: str, change: ScheduleChange, principal: Principal, settings: Settings
) -> Schedule:
    schedule = await get(schedule_id)
    principal.require_owner(schedule.created_by_key, "change", "schedule")
    if change.fields.get("config", {}).get("source") is not None:
        raise Unprocessable("Give the schedule's source as 'source', not inside 'config'")
    changed = schedule.model_copy(update=change.fields)
    await _checked(changed, settings)
    # The fields set, and the next run computed again (it may move, or stop while disabled).
    stored = {key: getattr(changed, key) for key in (*change.fields, "next_run_at")}
    await Schedule.get_pymongo_collection().update_one({"_id": schedule.id}, {"$set": stored})
    # The names of the fields changed, not their values: a source URL may carry a token.
    details = {"fields": sorted(change.fields)}
    await audit.record(AuditAction.SCHEDULE_UPDATED, principal, _target(schedule), details)
    return await get(schedule_id)


async def delete(schedule_id: str, principal: Principal) -> None:
    """The schedule stops; the imports it made stay."""
    schedule = await get(schedule_id)
    principal.require_owner(schedule.created_by_key, "delete", "schedule")
    await schedule.delete()
    details = {"name": schedule.name}
    await audit.record(AuditAction.SCHEDULE_DELETED, principal, _target(schedule), details)


async def view(schedule: Schedule) -> ScheduleView:
    run = schedule.last_run
    if run is None:
        return ScheduleView(schedule, None)
    if run.get("import_id") is None:
        return ScheduleView(schedule, "skipped")
    job = await ImportJob.get_pymongo_collection().find_one(
        {"_id": ObjectId(run["import_id"])}, {"status": 1}
    )
    return ScheduleView(schedule, job["status"] if job else None)


async def listed(limit: int, offset: int) -> tuple[list[ScheduleView], int]:
    query = Schedule.find_all()
    total = await query.count()
    found = await query.sort("created_at").skip(offset).limit(limit).to_list()
    return [await view(schedule) for schedule in found], total


async def unfinished_import(schedule: Schedule) -> str | None:
    """The schedule's last import, if it has not ended."""
    if schedule.last_import_id is None:
        return None
    running = await ImportJob.get_pymongo_collection().count_documents(
        {"_id": ObjectId(schedule.last_import_id), "status": {"$in": list(UNFINISHED)}}
    )
    return schedule.last_import_id if running else None


async def run_now(
    schedule_id: str, principal: Principal, dispatcher: Dispatcher, settings: Settings
) -> ImportJob:
    """An import of the schedule's source now, as its creator (skipUnchanged aside: asked
    for, it runs); 409 while the schedule's last import is unfinished."""
    schedule = await get(schedule_id)
    principal.require_owner(schedule.created_by_key, "run", "schedule")
    running = await unfinished_import(schedule)
    if running is not None:
        raise Conflict(
            f"The schedule's last import ({running}) has not finished; run it again once it has"
        )
    job_id = str(ObjectId())
    taken = await Schedule.get_pymongo_collection().update_one(
        {"_id": schedule.id, "last_import_id": schedule.last_import_id},
        {"$set": {"last_import_id": job_id}},
    )
    if not taken.modified_count:
        raise Conflict("The schedule is starting an import right now; try again in a moment")
    job = await create_source_job(
        config_of(schedule),
        schedule.created_by,
        dispatcher,
        settings,
        schedule.created_by_key,
        job_id,
        schedule_id,
    )
    last_run = {"at": utcnow(), "import_id": job_id, "skipped": None}
    await Schedule.get_pymongo_collection().update_one(
        {"_id": schedule.id}, {"$set": {"last_run": last_run}}
    )
    return job
