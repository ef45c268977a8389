"""The domain metrics of DESIGN.md §8, kept in MongoDB so that every API replica answers the
same values and they count the work of every worker process.

- Rows, imports and durations are read from the jobs themselves at each scrape: a job's
  counts are exact however often its batches ran (store.jobs.progress), so these counters
  are exact too, and need no write of their own on the import's path.
- Events that leave no document to count (a step the recovery check drove again, a webhook
  attempt's result) are added to `metric_counters`, one document per metric and label,
  with `$inc` where they happen.
- The broker's backlog is read from Redis (`queue_depths`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from store.documents import Customer, ImportJob, JobKind, JobStatus

COUNTERS = "metric_counters"
STEP_RECOVERIES = "bcu_step_recoveries_total"
WEBHOOK_DELIVERIES = "bcu_webhook_deliveries_total"
OUTCOMES = ("imported", "updated", "ignored", "failed")
ENDINGS = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
RUNNING = (JobStatus.PENDING, JobStatus.IN_PROGRESS)
# Created → finished, in seconds: from a small file's seconds to a million rows' hour.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
DRAMATIQ_NAMESPACE = "dramatiq"


def _counters() -> Any:
    return Customer.get_pymongo_collection().database[COUNTERS]


async def add(metric: str, label: str, amount: int = 1) -> None:
    """Add to a counter of `metric_counters` (its label's one value)."""
    if amount:
        await _counters().update_one(
            {"_id": f"{metric}:{label}"},
            {"$inc": {"value": amount}, "$set": {"metric": metric, "label": label}},
            upsert=True,
        )


async def add_each(metric: str, labels: Iterable[str]) -> None:
    """One for each label given (a label given twice counts two)."""
    tally: dict[str, int] = {}
    for label in labels:
        tally[label] = tally.get(label, 0) + 1
    for label, amount in tally.items():
        await add(metric, label, amount)


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), +Inf last
    total: float
    count: int


@dataclass(frozen=True)
class DomainMetrics:
    rows: dict[str, int]  # outcome → rows of real imports (dry runs excluded)
    imports: dict[str, int]  # ending status → imports
    duration: Histogram
    jobs: dict[str, int]  # pending / in_progress → jobs now
    counters: dict[str, dict[str, int]]  # metric → label → value


async def read() -> DomainMetrics:
    jobs = ImportJob.get_pymongo_collection()
    imports = {"kind": {"$ne": JobKind.REVERT}}
    row_sums = {outcome: {"$sum": f"$counts.{outcome}"} for outcome in OUTCOMES}
    rows = await (
        await jobs.aggregate(
            [
                {"$match": {**imports, "dry_run": {"$ne": True}}},
                {"$group": {"_id": None, **row_sums}},
            ]
        )
    ).to_list()
    ended = await (
        await jobs.aggregate(
            [
                {"$match": {**imports, "status": {"$in": list(ENDINGS)}}},
                {"$group": {"_id": "$status", "n": {"$sum": 1}}},
            ]
        )
    ).to_list()
    counters: dict[str, dict[str, int]] = {STEP_RECOVERIES: {}, WEBHOOK_DELIVERIES: {}}
    async for counter in _counters().find({}):
        counters.setdefault(counter["metric"], {})[counter["label"]] = int(counter["value"])
    return DomainMetrics(
        rows={outcome: int(rows[0][outcome]) if rows else 0 for outcome in OUTCOMES},
        imports={status.value: 0 for status in ENDINGS} | {e["_id"]: int(e["n"]) for e in ended},
        duration=await _durations(jobs, imports),
        jobs={s.value: await jobs.count_documents({"status": s.value}) for s in RUNNING},
        counters=counters,
    )


async def _durations(jobs: Any, imports: Mapping[str, Any]) -> Histogram:
    """Each finished import's time from creation to its end, counted into the buckets by
    the server (one summary document comes back, whatever the number of imports)."""
    seconds = {"$divide": [{"$subtract": ["$finished_at", "$created_at"]}, 1000]}
    per_bucket = {
        f"le{n}": {"$sum": {"$cond": [{"$lte": ["$seconds", bound]}, 1, 0]}}
        for n, bound in enumerate(DURATION_BUCKETS)
    }
    found = await (
        await jobs.aggregate(
            [
                {
                    "$match": {
                        **imports,
                        "status": {"$in": list(ENDINGS)},
                        "finished_at": {"$ne": None},
                    }
                },
                {"$project": {"seconds": seconds}},
                {
                    "$group": {
                        "_id": None,
                        "count": {"$sum": 1},
                        "total": {"$sum": "$seconds"},
                        **per_bucket,
                    }
                },
            ]
        )
    ).to_list()
    summary = found[0] if found else {"count": 0, "total": 0.0}
    bounds: Sequence[float] = DURATION_BUCKETS
    buckets = [(bound, int(summary.get(f"le{n}", 0))) for n, bound in enumerate(bounds)]
    buckets.append((math.inf, int(summary["count"])))
    return Histogram(buckets, float(summary["total"]), int(summary["count"]))


async def queue_depths(redis_url: str, queues: Sequence[str]) -> dict[str, int]:
    """Messages the broker holds per queue, not acknowledged yet: waiting, being worked on,
    or delayed for a retry (Dramatiq keeps each in a hash, plus one for its delay queue)."""
    client = aioredis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    depths = {}
    try:
        for queue in queues:
            held = [f"{DRAMATIQ_NAMESPACE}:{name}.msgs" for name in (queue, f"{queue}.DQ")]
            depths[queue] = sum([int(await client.hlen(key)) for key in held])
    finally:
        await client.aclose()
    return depths
