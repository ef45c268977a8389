"""The one routine every step of a job (store.jobs.steps) runs by: take its lease, counting
the delivery; end it failed when the earlier deliveries all stopped midway (the worker
died); do the step's own work; on an error, let Dramatiq deliver it again while the retry
policy (store.retry) allows, else end it failed with the reason."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from config import Settings
from store import retry
from store.jobs import leases, policy, states
from store.jobs.steps import Document, Step

log = logging.getLogger(__name__)
Work = Callable[[Document], Awaitable[None]]
# Ends the step failed: its document as leased, the delivery, and the error (Interrupted
# when the earlier deliveries all stopped midway).
GiveUp = Callable[[Document, int, BaseException], Awaitable[None]]


async def run(
    step: Step,
    condition: dict[str, Any],
    settings: Settings,
    work: Work,
    give_up: GiveUp | None = None,
    wanted: Callable[[Document], Awaitable[bool]] | None = None,
) -> bool:
    """Run `work` on the document matching `condition` under the step's lease; False when
    there is no such document or a live delivery holds its lease. By default a step that
    gives up ends its job failed with the reason. A step no longer `wanted` (a batch of an
    import cancelled meanwhile) is left as it is."""
    lease = await leases.take(
        step.collection(), condition, step.lease, settings.lease_seconds, count_in=step.attempts
    )
    if lease is None:
        return False
    async with lease:
        document = lease.document
        attempt = int(document[step.attempts])
        if wanted is not None and not await wanted(document):
            return True
        failing = step.failing
        try:
            if failing and attempt > failing.interrupted_after and not _done(step, document):
                raise policy.Interrupted(policy.interrupted(failing.title, attempt - 1))
            await work(document)
        except Exception as error:
            interrupted = isinstance(error, policy.Interrupted)
            if not failing or (not interrupted and retry.may_retry(attempt, error)):
                raise  # Dramatiq delivers it again
            log.exception("%s %s failed after %d attempts", step.name, document["_id"], attempt)
            await (give_up or _fail_job(step))(document, attempt, error)
    return True


def _done(step: Step, document: Document) -> bool:
    return step.done_when_set is not None and document.get(step.done_when_set) is not None


def failure(step: Step, attempt: int, error: BaseException, reason: str | None = None) -> str:
    """Why the step ended failed: it stopped midway too often, or its last delivery failed
    (with `reason`, or the error described)."""
    if isinstance(error, policy.Interrupted):
        return str(error)
    assert step.failing is not None and step.failing.failed_after is not None
    return (
        f"{step.failing.failed_after} after {attempt} attempts: {reason or policy.describe(error)}"
    )


def _fail_job(step: Step) -> GiveUp:
    async def fail(document: Document, attempt: int, error: BaseException) -> None:
        await states.fail(str(document["_id"]), failure(step, attempt, error))

    return fail
