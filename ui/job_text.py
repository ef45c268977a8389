"""How an import is put into words and numbers on the pages: status labels and colours,
times, progress, speed and time left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

UNFINISHED = {"pending", "in_progress"}
STATUS_LABELS = {
    "pending": "Waiting to start",
    "in_progress": "In progress",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
WITH_ERRORS = "Completed with errors"
STATUS_COLOURS = {
    "pending": "gray",
    "in_progress": "blue",
    "completed": "green",
    WITH_ERRORS: "orange",
    "failed": "red",
    "cancelled": "violet",
}


def is_revert(job: dict[str, Any]) -> bool:
    return job.get("kind") == "revert"


def title_of(job: dict[str, Any]) -> str:
    return f"Undo of {job['fileName']}" if is_revert(job) else job["fileName"]


def status_label(job: dict[str, Any]) -> str:
    if job["status"] == "completed" and job["counts"]["failed"]:
        return WITH_ERRORS
    return STATUS_LABELS.get(job["status"], job["status"])


def status_badge(job: dict[str, Any]) -> str:
    label = status_label(job)
    colour = STATUS_COLOURS.get(WITH_ERRORS if label == WITH_ERRORS else job["status"], "gray")
    return f":{colour}-badge[{label}]"


def moment(timestamp: str) -> datetime:
    parsed = datetime.fromisoformat(timestamp)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def when(timestamp: str | None) -> str:
    return moment(timestamp).strftime("%Y-%m-%d %H:%M UTC") if timestamp else ""


def progress_of(job: dict[str, Any]) -> float:
    total = job["progress"]["totalRows"]
    if job["status"] == "completed":
        return 1.0
    return min(job["progress"]["processedRows"] / total, 1.0) if total else 0.0


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def speed_and_time_left(job: dict[str, Any], now: datetime) -> str | None:
    """ "1,234 rows/s · about 2 min 05 s left" for a running import that has made progress."""
    processed, total = job["progress"]["processedRows"], job["progress"]["totalRows"]
    if job["status"] != "in_progress" or not job.get("startedAt") or not processed:
        return None
    elapsed = (now - moment(job["startedAt"])).total_seconds()
    if elapsed <= 0:
        return None
    rate = processed / elapsed
    left = (total - processed) / rate if rate else 0
    return f"{rate:,.0f} rows/s · about {duration(left)} left"


SETTLING_SECONDS = 60


def settling(job: dict[str, Any], now: datetime) -> bool:
    """Still changing: running, or cancelled a moment ago (its report is being built)."""
    if job["status"] in UNFINISHED:
        return True
    finished = job.get("finishedAt")
    recently = finished is not None and (now - moment(finished)).total_seconds() < SETTLING_SECONDS
    return job["status"] == "cancelled" and recently
