"""The job pipeline's limits: how long a step's delivery may run, which imports are small,
how long a cancelled import is owed its report, and the step limits taken from the one retry
policy (store.retry: how many times and how long, by reason)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError

from store import retry

# Deliveries of a step (planning, a batch, the completion) that fail for no reason of
# store.retry's: at this many, the step ends failed instead of being retried, so that a job
# always ends.
MAX_ATTEMPTS = retry.OTHER_DELIVERIES
# A step that only met other writers (their claims, or customers they changed meanwhile)
# gets more: those writers finish, and the step then goes through. Still bounded.
MAX_CONTENDED_ATTEMPTS = retry.RULES[retry.Reason.CONTENDED].deliveries
# Deliveries a cancelled import's report gets (it waits for the batches still writing, as
# a contended batch does), and how long after the cancel it is asked for; then the import
# stays cancelled without one, and says why. Far inside any retention period, so that a
# report is never built for an import whose files retention is deleting.
MAX_REPORT_ATTEMPTS = MAX_CONTENDED_ATTEMPTS
REPORT_OWED_FOR = timedelta(hours=1)
# Longest one delivery may run before Dramatiq cancels it (and retries): a request that
# never returns cannot hold a step, and the lease it keeps renewing, forever. A batch takes
# seconds; planning and the report of the largest files take minutes.
BATCH_TIME_LIMIT_MS = 120_000
STEP_TIME_LIMIT_MS = 30 * 60_000
# A revert reads and writes every customer the import wrote, a chunk at a time, holding
# its lease: the largest imports' take longer than their planning. A delivery cut short
# goes on where it stopped (store.jobs.revert).
REVERT_TIME_LIMIT_MS = 60 * 60_000
# Imports of at most this many batches are small: their batches run before big imports'
# (their own queue, workers.queues), so a small import does not wait behind others' big ones.
SMALL_IMPORT_BATCHES = 2
# Longest one round of the recovery check may run before it is cancelled and started again.
RECOVERY_ROUND_LIMIT_SECONDS = 60.0


def small_import(batch_count: int) -> bool:
    return batch_count <= SMALL_IMPORT_BATCHES


def describe(error: BaseException) -> str:
    """A one-line, human-readable reason for an error that ended a step."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"its stored data is unreadable ({where}: {first['msg']})"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


class Interrupted(Exception):
    """The step's earlier deliveries all stopped midway: it ends failed, not retried."""


def interrupted(what: str, attempts: int) -> str:
    return (
        f"{what} stopped midway {attempts} times (the worker process ended while working on "
        "it, e.g. out of memory); giving up"
    )


def report_given_up(finalize_attempts: int, cancelled_at: datetime | None, now: datetime) -> bool:
    """Whether a cancelled import without a report will get none any more."""
    late = cancelled_at is not None and cancelled_at < now - REPORT_OWED_FOR
    return finalize_attempts >= MAX_REPORT_ATTEMPTS or late
