"""Bodies of the schedule routes (DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from api.models.base import CamelStruct
from api.models.imports import ImportSource

RunStatus = Literal["pending", "in_progress", "completed", "failed", "cancelled", "skipped"]


class LastRun(CamelStruct):
    at: datetime
    import_id: str | None  # None when skipped
    status: RunStatus | None  # its import's status now, or "skipped"
    skipped: Literal["unchanged", "overlap"] | None


class ScheduleBody(CamelStruct):
    id: str
    name: str
    source: ImportSource
    config: dict[str, Any]
    cron: str
    timezone: str
    enabled: bool
    skip_unchanged: bool
    next_run_at: datetime | None
    last_run: LastRun | None
    created_by: str
    created_at: datetime


class SchedulePage(CamelStruct):
    items: list[ScheduleBody]
    total: int
