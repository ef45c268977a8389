"""Firing schedules and performing their runs.

Every recovery round (workers.sweeper, any number of them) fires the schedules that are due:
for each, it inserts the run of its due time, whose `_id` is the schedule and the time, and
moves `next_run_at` on to the next time after now. Of several processes that find the same
schedule due, one inserts the run; a run missed while everything was down is made once, for
the first time missed. The run itself is the `run_schedule` step on the import workers:
skipped when the schedule's last import is unfinished ("overlap") or, with skipUnchanged,
when the source has not changed since the last import ("unchanged"); otherwise the file is
fetched and imported exactly as an upload, as the schedule's creator. A source that fails or
a file that would be refused makes a failed import with the reason."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Collection
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import Settings
from domain import cron
from domain.errors import DomainError
from domain.remote import Source
from store import metrics, sources
from store.documents import ImportJob, Schedule, ScheduleRun, utcnow
from store.jobs import intake, leases, policy
from store.jobs.dispatch import Dispatcher
from store.jobs.remote import record_failed, source_fields
from store.schedules.manage import config_of, unfinished_import

log = logging.getLogger(__name__)
Send = Callable[[str], Any]  # sends a run's step to the workers


async def fire_due(send: Send) -> list[str]:
    """Make the run of every schedule due now; the runs made."""
    now = utcnow()
    schedules = Schedule.get_pymongo_collection()
    made = []
    async for found in schedules.find({"enabled": True, "next_run_at": {"$lte": now}}):
        schedule = Schedule.model_validate(found)
        due = found["next_run_at"]
        run = ScheduleRun(
            id=f"{schedule.id}@{due.isoformat()}",
            schedule_id=str(schedule.id),
            due_at=due,
            import_id=str(ObjectId()),
        )
        try:
            await run.insert()
            made.append(run.id)
        except DuplicateKeyError:
            pass  # another process made it
        following = cron.next_run(schedule.cron, schedule.timezone, max(now, due))
        await schedules.update_one(
            {"_id": schedule.id, "next_run_at": due}, {"$set": {"next_run_at": following}}
        )
    for run_id in made:
        send(run_id)
    return made


async def drive_lost_runs(send: Send, held: Collection[str]) -> list[str]:
    """Send again the step of each unfinished run that no worker holds and whose message the
    broker does not hold either."""
    pending = ScheduleRun.get_pymongo_collection().find(
        {"done": False, **leases.free("lease_until", utcnow())}, {"_id": 1}
    )
    driven = [run["_id"] async for run in pending if run["_id"] not in held]
    for run_id in driven:
        send(run_id)
    await metrics.add(metrics.STEP_RECOVERIES, "schedule_run", len(driven))
    return driven


async def perform_run(run_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    """A run's step: safe to repeat (its import has its id before it is made)."""
    runs = ScheduleRun.get_pymongo_collection()
    lease = await leases.take(
        runs, {"_id": run_id, "done": False}, "lease_until", settings.lease_seconds, "attempts"
    )
    if lease is None:
        return  # done, or being done
    async with lease:
        run = ScheduleRun.model_validate(lease.document)
        found = await Schedule.get_pymongo_collection().find_one({"_id": ObjectId(run.schedule_id)})
        if found is None:  # deleted since
            await runs.update_one({"_id": run_id}, {"$set": {"done": True}})
            return
        schedule = Schedule.model_validate(found)
        if run.attempts > policy.MAX_ATTEMPTS:
            skipped = None
            await _failed(run, schedule, policy.interrupted("The scheduled run", run.attempts - 1))
        else:
            skipped = await _run(run, schedule, dispatcher, settings)
        await runs.update_one({"_id": run_id}, {"$set": {"done": True, "skipped": skipped}})
        last_run = {
            "at": run.due_at,
            "import_id": None if skipped else run.import_id,
            "skipped": skipped,
        }
        await Schedule.get_pymongo_collection().update_one(
            {"_id": schedule.id}, {"$set": {"last_run": last_run}}
        )
        log.info("schedule %s run %s: %s", schedule.id, run_id, skipped or run.import_id)


async def _run(
    run: ScheduleRun, schedule: Schedule, dispatcher: Dispatcher, settings: Settings
) -> str | None:
    """The run's import made (or found made by an earlier delivery); or why it was skipped."""
    if await ImportJob.get(ObjectId(run.import_id)) is not None:
        return None
    previous = schedule.last_import_id
    if await unfinished_import(schedule) is not None:
        return "overlap"
    with tempfile.TemporaryFile() as fetched:
        last = sources.Version.of(schedule.last_version) if schedule.skip_unchanged else None
        try:
            version = await sources.fetch(
                Source.model_validate(schedule.source), fetched, settings, last
            )
        except sources.SourceError as error:
            await _failed(run, schedule, str(error))
            return None
        if version is None:
            return "unchanged"
        # Taking the schedule's turn: a run now that started meanwhile wins, this one skips.
        taken = await Schedule.get_pymongo_collection().update_one(
            {"_id": schedule.id, "last_import_id": previous},
            {"$set": {"last_import_id": run.import_id, "last_version": version.as_document()}},
        )
        if not taken.modified_count:
            return "overlap"
        fetched.seek(0)
        config = config_of(schedule)
        try:
            await intake.create_job(
                fetched,
                config.source.file_name() if config.source else "source.csv",
                config,
                schedule.created_by,
                dispatcher,
                settings,
                created_by_key=schedule.created_by_key,
                job_id=run.import_id,
                **source_fields(config, str(schedule.id)),
            )
        except DomainError as refused:  # the file, the settings, or the key's limit
            await _failed(run, schedule, f"The scheduled import was refused: {refused}")
    return None


async def _failed(run: ScheduleRun, schedule: Schedule, reason: str) -> None:
    await record_failed(
        run.import_id,
        config_of(schedule),
        schedule.created_by,
        schedule.created_by_key,
        str(schedule.id),
        reason,
    )
    await Schedule.get_pymongo_collection().update_one(
        {"_id": schedule.id, "last_import_id": schedule.last_import_id},
        {"$set": {"last_import_id": run.import_id}},
    )
