"""The one retry policy: why a piece of work may succeed when tried again, and for each
reason how many times and how long. Writers (store.customers.commit) try again within one delivery
for at most `rounds` of their reason; the job pipeline (store.jobs.policy, and Dramatiq's
`retry_when` through it) gives a step at most `deliveries` of its error's reason.

`TryAgain` means "later, the same work may go through": it is never an HTTP status by itself
(the API's 409 is store.errors.Conflict, a request the resource's state refuses); a request
that meets it answers "try again later" in its own words (store.bulk)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from enum import StrEnum

from pymongo.errors import AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class Reason(StrEnum):
    # Another live writer holds identifier claims this one needs: it finishes, then this one
    # goes through (wait-die keeps two writers from waiting on each other).
    CONTENDED = "contended"
    # Customers or claims changed between this writer's read and its conditional write:
    # resolving again against fresh data goes through.
    CHANGED = "changed"
    # The database or the broker did not answer (a restart, a failover, a lost connection).
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Rule:
    rounds: int  # tries within one delivery, waiting `pause` between them
    deliveries: int  # deliveries of a job's step before it ends failed


RULES = {
    # Writers finish within seconds: a few rounds in process (about a second), then Dramatiq
    # backs off; bounded, so that a job always ends.
    Reason.CONTENDED: Rule(rounds=6, deliveries=25),
    Reason.CHANGED: Rule(rounds=8, deliveries=25),
    Reason.TRANSIENT: Rule(rounds=1, deliveries=5),
}
# Any other error (a bug, data that does not read): a few deliveries, then the step fails.
OTHER_DELIVERIES = 5
# Dramatiq's backoff between deliveries.
MIN_BACKOFF_MS = 500
MAX_BACKOFF_MS = 10_000


class TryAgain(Exception):
    """The work may go through when tried again later, for `reason`."""

    reason: Reason


class Contended(TryAgain):
    reason = Reason.CONTENDED


class KeptChanging(TryAgain):
    reason = Reason.CHANGED


_TRANSIENT = (
    AutoReconnect,  # NetworkTimeout among them
    NetworkTimeout,
    ServerSelectionTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
)


def reason_of(error: BaseException) -> Reason | None:
    if isinstance(error, TryAgain):
        return error.reason
    if isinstance(error, _TRANSIENT):
        return Reason.TRANSIENT
    return None


def deliveries_allowed(error: BaseException) -> int:
    reason = reason_of(error)
    return OTHER_DELIVERIES if reason is None else RULES[reason].deliveries


def may_retry(attempt: int, error: BaseException) -> bool:
    """Whether a step's failed delivery (the `attempt`-th) may be delivered again."""
    return attempt < deliveries_allowed(error)


def retry_when(retries: int, error: Exception) -> bool:
    """Dramatiq's `retry_when`: `retries` deliveries failed so far. The steps count their
    deliveries themselves and end failed at the limit (store.jobs.step_run); this only keeps
    Dramatiq delivering until then."""
    return retries < deliveries_allowed(error)


async def pause(rounds: int) -> None:
    """Between two rounds in process: random, growing waits, so that two writers that
    collided do not collide again in step."""
    await asyncio.sleep(random.uniform(0.01, min(2.0, 0.02 * 2**rounds)))
