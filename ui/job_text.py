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


def is_check(job: dict[str, Any]) -> bool:
    """A dry run: the check made before importing, which writes nothing."""
    return bool(job.get("dryRun"))


READING = "Reading the file"  # pending, its planning under way
CHECKED = "Checked"
CHECKED_WITH_ERRORS = "Checked: invalid rows found"


def status_label(job: dict[str, Any]) -> str:
    failed = job["status"] == "completed" and job["counts"]["failed"]
    if is_check(job) and job["status"] == "completed":
        return CHECKED_WITH_ERRORS if failed else CHECKED
    if failed:
        return WITH_ERRORS
    if job["status"] == "pending" and job.get("checkedRows"):
        return READING
    return STATUS_LABELS.get(job["status"], job["status"])


def status_badge(job: dict[str, Any]) -> str:
    label = status_label(job)
    with_errors = label in (WITH_ERRORS, CHECKED_WITH_ERRORS)
    colour = STATUS_COLOURS.get(WITH_ERRORS if with_errors else job["status"], "gray")
    return f":{colour}-badge[{label}]"


def action_text(job: dict[str, Any]) -> str:
    if is_revert(job):
        return "Undo"
    action = str(job["action"]).capitalize()
    return f"Check ({action})" if is_check(job) else action


def matched_by(job: dict[str, Any], labels: dict[str, str]) -> str:
    """The identifiers duplicates are found by, in words: "Email, Phone Number"."""
    return ", ".join(labels.get(key, key) for key in job["deduplicationKeys"])


def rows_left(job: dict[str, Any]) -> int:
    return max(0, job["progress"]["totalRows"] - job["progress"]["processedRows"])


def planning_text(job: dict[str, Any]) -> str | None:
    """While the file is read and checked, before any row is processed: what happens."""
    if job["status"] not in UNFINISHED or job["progress"]["processedRows"]:
        return None
    checked, total = job.get("checkedRows") or 0, job["progress"]["totalRows"]
    if not total:
        return "Waiting for the file to be fetched and read"
    if checked >= total and job["status"] == "in_progress":
        return None  # planned: the batches are being processed
    if not checked and job["status"] == "pending":
        return f"Waiting for a worker to read the file ({total:,} rows)"
    return f"Reading and checking the file: {checked:,} of {total:,} rows"


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


def settling(job: dict[str, Any]) -> bool:
    """Still changing: the API says its report is coming while the job runs, and after a
    cancel while its report is built (seconds, unless batches still write or the worker is
    away)."""
    return job["reportStatus"] == "coming"
