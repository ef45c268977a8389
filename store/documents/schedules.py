"""Schedules of recurring imports (DESIGN.md §7) and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from store.documents.clock import utcnow


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
