"""The steps of a job, one row each: the actor that runs it, the lease and the count of
deliveries it keeps on its document, when it ends failed, which documents wait on it (for
the recovery check, store.jobs.recovery) and how it is sent again. store.jobs.step_run runs
any of them; each step's module (planning, batches, finalize, revert) gives only its work.

A new step kind is a row here, its work in a module of its own calling step_run.run, and its
actor in workers.actors (with a Dispatcher method to send it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from store.documents import BatchStatus, ImportBatch, ImportJob, JobKind, JobStatus
from store.jobs import policy
from store.jobs.dispatch import Dispatcher
from store.jobs.progress import enqueue_unfinished
from store.jobs.states import UNFINISHED

# The fields of a step's lease (store.jobs.leases) and of its deliveries, on its document.
PLAN_LEASE, PLAN_ATTEMPTS = "plan_lease_until", "plan_attempts"
BATCH_LEASE, BATCH_ATTEMPTS = "lease_until", "attempts"
FINALIZE_LEASE, FINALIZE_ATTEMPTS = "finalizing_until", "finalize_attempts"
REVERT_LEASE, REVERT_ATTEMPTS = "revert_lease_until", "revert_attempts"
Document = dict[str, Any]


@dataclass(frozen=True)
class Failing:
    """When and how a step ends its job failed."""

    # Deliveries that all stopped midway (the worker died) before it ends failed.
    interrupted_after: int
    title: str  # what stopped midway, in the reason the job ends with
    # The reason's start when its last delivery failed, for a step that ends its job.
    failed_after: str | None = None


@dataclass(frozen=True)
class Step:
    name: str  # as the recovery check and its metric name it
    actor: str  # the actor that runs it (workers.actors)
    on_batches: bool  # its document is a batch (else the job)
    lease: str
    attempts: str
    # None: the job has ended already; every failed delivery goes back to Dramatiq, and
    # the recovery check stops sending it at the step's limit (its `condition`).
    failing: Failing | None
    # The documents that wait on this step (a live lease or not), and the condition they
    # meet, read again before the step is sent again.
    waiting: Callable[[Step, datetime], Awaitable[list[Document]]]
    condition: Callable[[datetime], dict[str, Any]]
    send: Callable[[Dispatcher, Document], Awaitable[None]]
    # A document with this field set has its work done: later deliveries only send on.
    done_when_set: str | None = None
    small_import_actor: str | None = None  # a batch of a small import is sent to this one

    @property
    def actors(self) -> tuple[str, ...]:
        small = () if self.small_import_actor is None else (self.small_import_actor,)
        return (self.actor, *small)

    def collection(self) -> AsyncCollection[Document]:
        document = ImportBatch if self.on_batches else ImportJob
        return document.get_pymongo_collection()

    def label(self, document: Document) -> str:
        return f"{self.name} {document['_id']}" if self.on_batches else self.name

    @staticmethod
    def job_id(document: Document) -> str:
        return str(document.get("job_id") or document["_id"])


PROJECTION = {"request_id": 1, "batch_count": 1, "job_id": 1}
NOT_REVERT = {"kind": {"$ne": JobKind.REVERT}}


async def _matching(step: Step, now: datetime) -> list[Document]:
    projection = {**PROJECTION, step.lease: 1}
    return await step.collection().find(step.condition(now), projection).to_list()


async def _running_imports() -> dict[str, Document]:
    running = ImportJob.get_pymongo_collection().find(
        {"status": {"$in": list(UNFINISHED)}, "batch_count": {"$ne": None}, **NOT_REVERT},
        {**PROJECTION, FINALIZE_LEASE: 1, "status": 1},
    )
    return {str(job["_id"]): job async for job in running}


async def _pending_batches(job_ids: list[str]) -> list[Document]:
    pending = ImportBatch.get_pymongo_collection().find(
        {"job_id": {"$in": job_ids}, "status": BatchStatus.PENDING}, {"job_id": 1, BATCH_LEASE: 1}
    )
    return await pending.to_list()


async def _batches_waiting(step: Step, now: datetime) -> list[Document]:
    """Pending batches of unfinished imports (a cancelled import's stay pending)."""
    running = await _running_imports()
    return [
        {**batch, "batch_count": running[batch["job_id"]]["batch_count"]}
        | {"request_id": running[batch["job_id"]].get("request_id")}
        for batch in await _pending_batches(list(running))
    ]


async def _completions_waiting(step: Step, now: datetime) -> list[Document]:
    """Running imports with no batch left pending."""
    running = await _running_imports()
    pending = {batch["job_id"] for batch in await _pending_batches(list(running))}
    return [
        job
        for job_id, job in running.items()
        if job_id not in pending and job["status"] == JobStatus.IN_PROGRESS
    ]


def _owing_a_report(now: datetime) -> dict[str, Any]:
    """Cancelled imports still owed the report of what they did (see policy)."""
    return {
        "status": JobStatus.CANCELLED,
        "report_file_id": None,
        "file_id": {"$ne": None},
        FINALIZE_ATTEMPTS: {"$lt": policy.MAX_REPORT_ATTEMPTS},
        "finished_at": {"$gte": now - policy.REPORT_OWED_FOR},
    }


def _unfinished(**fields: Any) -> Callable[[datetime], dict[str, Any]]:
    return lambda now: {"status": {"$in": list(UNFINISHED)}, **fields}


async def _send_plan(dispatcher: Dispatcher, job: Document) -> None:
    dispatcher.plan(str(job["_id"]))


async def _send_batch(dispatcher: Dispatcher, batch: Document) -> None:
    dispatcher.process_batch(str(batch["_id"]), policy.small_import(batch["batch_count"]))


async def _send_completion(dispatcher: Dispatcher, job: Document) -> None:
    # Counts what a dead worker finished without counting, then completes.
    stored = await ImportJob.get(job["_id"])
    if stored is not None:
        await enqueue_unfinished(stored, dispatcher)


async def _send_finalize(dispatcher: Dispatcher, job: Document) -> None:
    dispatcher.finalize(str(job["_id"]))


async def _send_revert(dispatcher: Dispatcher, job: Document) -> None:
    dispatcher.revert(str(job["_id"]))


PLANNING = Step(
    name="planning",
    actor="plan_import",
    on_batches=False,
    lease=PLAN_LEASE,
    attempts=PLAN_ATTEMPTS,
    failing=Failing(policy.MAX_ATTEMPTS, "Planning the import", "The import could not start"),
    waiting=_matching,
    condition=_unfinished(batch_count=None, **NOT_REVERT),
    send=_send_plan,
    done_when_set="batch_count",
)
BATCH = Step(
    name="batch",
    actor="process_batch",
    small_import_actor="process_small_batch",
    on_batches=True,
    lease=BATCH_LEASE,
    attempts=BATCH_ATTEMPTS,
    failing=Failing(policy.MAX_CONTENDED_ATTEMPTS, "The batch"),  # marks the batch failed
    waiting=_batches_waiting,
    condition=lambda now: {"status": BatchStatus.PENDING},
    send=_send_batch,
)
COMPLETION = Step(
    name="completion",
    actor="finalize_import",
    on_batches=False,
    lease=FINALIZE_LEASE,
    attempts=FINALIZE_ATTEMPTS,
    failing=Failing(
        policy.MAX_ATTEMPTS,
        "Every row was processed, but building the report",
        "Every row was processed, but the results report could not be built",
    ),
    waiting=_completions_waiting,
    condition=lambda now: {"status": JobStatus.IN_PROGRESS, "batch_count": {"$ne": None}},
    send=_send_completion,
)
# A cancelled import's report: the completion's actor, lease and deliveries. The import
# has ended, so a report that cannot be built leaves it cancelled (policy.report_given_up).
REPORT = Step(
    name="report",
    actor=COMPLETION.actor,
    on_batches=False,
    lease=FINALIZE_LEASE,
    attempts=FINALIZE_ATTEMPTS,
    failing=None,  # at most policy.MAX_REPORT_ATTEMPTS deliveries: _owing_a_report
    waiting=_matching,
    condition=_owing_a_report,
    send=_send_finalize,
)
REVERT = Step(
    name="revert",
    actor="revert_import",
    on_batches=False,
    lease=REVERT_LEASE,
    attempts=REVERT_ATTEMPTS,
    failing=Failing(policy.MAX_CONTENDED_ATTEMPTS, "Reverting the import", "The revert stopped"),
    waiting=_matching,
    condition=_unfinished(kind=JobKind.REVERT),
    send=_send_revert,
)
STEPS = (PLANNING, BATCH, COMPLETION, REPORT, REVERT)
