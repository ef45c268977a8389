"""Schedules (DESIGN.md §7): recurring imports of a remote source. `manage` creates, changes
and lists them and runs one now; `runs` fires the due ones (exactly one run per due time,
whatever the number of processes) and performs each run."""

from store.schedules.manage import (
    ScheduleChange,
    ScheduleView,
    create,
    delete,
    get,
    listed,
    run_now,
    update,
    view,
)
from store.schedules.runs import drive_lost_runs, fire_due, perform_run

__all__ = [
    "ScheduleChange",
    "ScheduleView",
    "create",
    "delete",
    "drive_lost_runs",
    "fire_due",
    "get",
    "listed",
    "perform_run",
    "run_now",
    "update",
    "view",
]
