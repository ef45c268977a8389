"""The recovery check: MongoDB is the source of truth, Redis only transport. Each unfinished
job's next step (its planning, its pending batches, its completion), and a cancelled job's
report, is driven again when the lease of the worker that took it ran out (the worker died),
or when no worker holds it and the broker holds no message for it (lost with a Redis
restart). Safe to run any time and from any number of processes: every step is idempotent,
and a lease keeps duplicates from working at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from config import logs
from store import files, metrics
from store.documents import ImportJob, utcnow
from store.jobs import leases
from store.jobs.dispatch import Dispatcher
from store.jobs.steps import STEPS, Document, Step

RAN_OUT, LOST = "lease ran out", "message lost"


@dataclass(frozen=True)
class Queued:
    """The ids the broker holds a live message for: waiting in the queue, fetched by a
    worker a moment ago, or a retry not overdue."""

    steps: Mapping[str, Collection[str]]  # by the actor of a job's step (store.jobs.steps)
    deliveries: Collection[str] = ()  # webhook deliveries (store.webhooks)
    runs: Collection[str] = ()  # schedule runs (store.schedules)

    def held(self, step: Step) -> Collection[str]:
        return self.steps.get(step.actor, ())


class Broker(Protocol):
    def queued(self) -> Queued:
        """What the broker holds now, once messages of dead worker processes are requeued."""
        ...


@dataclass(frozen=True)
class Driven:
    job_id: str
    step: str  # "planning", "batch <id>", "completion", "report" (of a cancelled import)
    why: str  # "lease ran out" or "message lost"

    def __str__(self) -> str:
        return f"{self.job_id} {self.step} ({self.why})"

    @property
    def kind(self) -> str:
        """The step without its id: "planning", "batch", "completion", "report", "revert"."""
        return self.step.split(" ", 1)[0]


def _expired(document: Document, field: str, now: datetime) -> bool:
    until = document.get(field)
    return until is not None and until < now


async def drive_unfinished(dispatcher: Dispatcher, broker: Broker) -> list[Driven]:
    """One round of the check; what it drove again. A step is sent again under the request
    that made its job, so its lines log that request as its first message's did."""
    now = utcnow()
    waiting: list[tuple[Step, Document]] = []  # no lease held
    driven: list[Driven] = []
    for step in STEPS:
        for document in await step.waiting(step, now):
            if _expired(document, step.lease, now):
                # Forgotten before the step is sent again, so that the next check sees a
                # step waiting for its (new) message rather than a dead worker.
                await step.collection().update_one(
                    {"_id": document["_id"], step.lease: document[step.lease]},
                    {"$set": {step.lease: None}},
                )
                await _send(step, document, dispatcher)
                driven.append(Driven(step.job_id(document), step.label(document), RAN_OUT))
            elif document.get(step.lease) is None:
                waiting.append((step, document))
    if waiting:
        driven += await _drive_lost(waiting, dispatcher, broker)
    await metrics.add_each(metrics.STEP_RECOVERIES, (d.kind for d in driven))
    return driven


async def _send(step: Step, document: Document, dispatcher: Dispatcher) -> None:
    with logs.bound(requestId=document.get("request_id")):
        await step.send(dispatcher, document)


async def _drive_lost(
    waiting: list[tuple[Step, Document]], dispatcher: Dispatcher, broker: Broker
) -> list[Driven]:
    """Steps no worker holds whose message the broker does not hold either. The broker is
    read after MongoDB, and each step read again after it: a step that finished or was
    taken meanwhile is left alone."""
    queued = broker.queued()
    driven = []
    for step, document in waiting:
        if str(document["_id"]) in queued.held(step):
            continue
        still = {"_id": document["_id"], **step.condition(utcnow()), step.lease: None}
        if await step.collection().count_documents(still):
            await _send(step, document, dispatcher)
            driven.append(Driven(step.job_id(document), step.label(document), LOST))
    return driven


async def delete_abandoned_uploads() -> list[str]:
    """Delete what uploads whose API process died while storing them left behind (the
    chunks stored so far, or a whole file that no import names); the file ids."""
    leases_ = files.upload_leases()
    abandoned = await leases_.find(leases.free("lease_until", utcnow()), {"_id": 1}).to_list()
    deleted = []
    for upload in abandoned:
        file_id = upload["_id"]
        if await ImportJob.get_pymongo_collection().count_documents({"file_id": file_id}) == 0:
            await files.delete(files.uploads(), file_id)
            deleted.append(str(file_id))
        await leases_.delete_one({"_id": file_id})
    return deleted
