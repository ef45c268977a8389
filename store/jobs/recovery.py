"""The recovery check: MongoDB is the source of truth, Redis only transport. Each unfinished
job's next step (its planning, its pending batches, its completion), and a cancelled job's
report, is driven again when the lease of the worker that took it ran out (the worker died),
or when no worker holds it and the broker holds no message for it (lost with a Redis
restart). Safe to run any time and from any number of processes: every step is idempotent,
and a lease keeps duplicates from working at once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from config import logs
from store import files, metrics
from store.documents import BatchStatus, ImportBatch, ImportJob, JobKind, JobStatus, utcnow
from store.jobs import leases, policy
from store.jobs.dispatch import Dispatcher
from store.jobs.planning import enqueue_unfinished
from store.jobs.queries import UNFINISHED, job_oid


@dataclass(frozen=True)
class Queued:
    """The ids the broker holds a live message for: waiting in the queue, fetched by a
    worker a moment ago, or a retry not overdue."""

    plans: Collection[str]
    batches: Collection[str]
    finalizes: Collection[str]
    reverts: Collection[str]
    deliveries: Collection[str] = ()  # webhook deliveries (store.webhooks)
    runs: Collection[str] = ()  # schedule runs (store.schedules)


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


def _expired(document: dict[str, Any], field: str, now: datetime) -> bool:
    until = document.get(field)
    return until is not None and until < now


async def _clear(collection: Any, document: dict[str, Any], field: str) -> None:
    """Forget an expired lease before driving the step again, so that the next check sees
    a step waiting for its (new) message rather than a dead worker."""
    await collection.update_one(
        {"_id": document["_id"], field: document[field]}, {"$set": {field: None}}
    )


def _owing_a_report(now: datetime) -> dict[str, Any]:
    """Cancelled imports still owed the report of what they did (see policy)."""
    return {
        "status": JobStatus.CANCELLED,
        "report_file_id": None,
        "file_id": {"$ne": None},
        "finalize_attempts": {"$lt": policy.MAX_REPORT_ATTEMPTS},
        "finished_at": {"$gte": now - policy.REPORT_OWED_FOR},
    }


async def drive_unfinished(dispatcher: Dispatcher, broker: Broker) -> list[Driven]:
    """One round of the check; what it drove again."""
    now = utcnow()
    jobs = ImportJob.get_pymongo_collection()
    batches = ImportBatch.get_pymongo_collection()
    projection = {
        "batch_count": 1,
        "batches_done": 1,
        "plan_lease_until": 1,
        "kind": 1,
        "request_id": 1,
    }
    unfinished = await jobs.find(
        {"status": {"$in": list(UNFINISHED)}}, {**projection, "finalizing_until": 1, "status": 1}
    ).to_list()
    waiting: list[tuple[str, str, dict[str, Any]]] = []  # (kind, id, document) with no lease
    driven: list[Driven] = []
    for job in unfinished:
        with logs.bound(requestId=job.get("request_id")):
            job_id = str(job["_id"])
            if job.get("kind") == JobKind.REVERT:  # one step, leased in plan_lease_until
                field = "plan_lease_until"
                if _expired(job, field, now):
                    await _clear(jobs, job, field)
                    dispatcher.revert(job_id)
                    driven.append(Driven(job_id, "revert", "lease ran out"))
                elif job.get(field) is None:
                    waiting.append(("revert", job_id, job))
                continue
            if job.get("batch_count") is None:
                field = "plan_lease_until"
                if _expired(job, field, now):
                    await _clear(jobs, job, field)
                    dispatcher.plan(job_id)
                    driven.append(Driven(job_id, "planning", "lease ran out"))
                elif job.get(field) is None:
                    waiting.append(("plan", job_id, job))
                continue
            pending = await batches.find(
                {"job_id": job_id, "status": BatchStatus.PENDING}, {"lease_until": 1}
            ).to_list()
            for batch in pending:
                if _expired(batch, "lease_until", now):
                    await _clear(batches, batch, "lease_until")
                    dispatcher.process_batch(batch["_id"], policy.small_import(job["batch_count"]))
                    driven.append(Driven(job_id, f"batch {batch['_id']}", "lease ran out"))
                elif batch.get("lease_until") is None:
                    waiting.append(
                        (
                            "batch",
                            batch["_id"],
                            {**batch, **{k: job.get(k) for k in ("batch_count", "request_id")}},
                        )
                    )
            if pending or job["status"] != JobStatus.IN_PROGRESS:
                continue
            if _expired(job, "finalizing_until", now):
                await _clear(jobs, job, "finalizing_until")
                dispatcher.finalize(job_id)
                driven.append(Driven(job_id, "completion", "lease ran out"))
            elif job.get("finalizing_until") is None:
                waiting.append(("finalize", job_id, job))
    # A cancelled import is finished, but owes the report of what it did until one is built.
    owing = await jobs.find(
        _owing_a_report(now), {"finalizing_until": 1, "request_id": 1}
    ).to_list()
    for job in owing:
        if _expired(job, "finalizing_until", now):
            await _clear(jobs, job, "finalizing_until")
            with logs.bound(requestId=job.get("request_id")):
                dispatcher.finalize(str(job["_id"]))
            driven.append(Driven(str(job["_id"]), "report", "lease ran out"))
        elif job.get("finalizing_until") is None:
            waiting.append(("report", str(job["_id"]), job))
    if waiting:
        driven += await _drive_lost(waiting, dispatcher, broker)
    await metrics.add_each(metrics.STEP_RECOVERIES, (d.kind for d in driven))
    return driven


async def _drive_lost(
    waiting: list[tuple[str, str, dict[str, Any]]], dispatcher: Dispatcher, broker: Broker
) -> list[Driven]:
    """Steps no worker holds whose message the broker does not hold either. The broker is
    read after MongoDB, and each step read again after it: a step that finished or was
    taken meanwhile is left alone."""
    queued = broker.queued()
    held = {
        "plan": queued.plans,
        "batch": queued.batches,
        "finalize": queued.finalizes,
        "report": queued.finalizes,  # a cancelled import's report comes of its completion
        "revert": queued.reverts,
    }
    lost = [(kind, step_id, doc) for kind, step_id, doc in waiting if step_id not in held[kind]]
    driven = []
    jobs = ImportJob.get_pymongo_collection()
    for kind, step_id, doc in lost:
        with logs.bound(requestId=doc.get("request_id")):
            if kind == "batch":
                batch = await ImportBatch.get_pymongo_collection().find_one(
                    {"_id": step_id, "status": BatchStatus.PENDING, "lease_until": None},
                    {"job_id": 1},
                )
                if batch is not None:
                    dispatcher.process_batch(step_id, policy.small_import(doc["batch_count"]))
                    driven.append(Driven(str(batch["job_id"]), f"batch {step_id}", "message lost"))
                continue
            if kind == "report":
                owed = {**_owing_a_report(utcnow()), "finalizing_until": None}
                if await jobs.count_documents({"_id": job_oid(step_id), **owed}):
                    dispatcher.finalize(step_id)
                    driven.append(Driven(step_id, "report", "message lost"))
                continue
            job = await jobs.find_one(
                {"_id": job_oid(step_id), "status": {"$in": list(UNFINISHED)}}
            )
            if job is None:
                continue
            if kind == "revert" and not job.get("plan_lease_until"):
                dispatcher.revert(step_id)
                driven.append(Driven(step_id, "revert", "message lost"))
            elif (
                kind == "plan"
                and job.get("batch_count") is None
                and not job.get("plan_lease_until")
            ):
                dispatcher.plan(step_id)
                driven.append(Driven(step_id, "planning", "message lost"))
            elif kind == "finalize" and not job.get("finalizing_until"):
                # Counts what a dead worker finished without counting, then completes.
                await enqueue_unfinished(ImportJob.model_validate(job), dispatcher)
                driven.append(Driven(step_id, "completion", "message lost"))
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
