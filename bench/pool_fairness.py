"""How evenly one worker process's connection is shared: `tasks` coroutines on one client
with `maxPoolSize=1` (WORKER_DATABASE_COMMANDS=1), each issuing commands back to back (an
insert, then a read of it, as a batch does), for `seconds`; once with PyMongo's own pool and
once with store.fair_pool.FairPool, on the same server.

    .venv/bin/python -m bench.pool_fairness [--tasks 4] [--seconds 20] [--standalone]

For each pool: commands per coroutine, and the longest one command waited for its turn
(the call's time minus the server's median for that command alone)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from stack.processes import start_mongo, stop_all
from store.fair_pool import FairPool

DATABASE = "bcu_bench_pool"


async def _share(url: str, pool_class: type | None, tasks: int, seconds: float) -> dict[str, Any]:
    options: dict[str, Any] = {"_pool_class": pool_class} if pool_class else {}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, maxPoolSize=1, **options)
    collection = client[DATABASE]["commands"]
    await collection.drop()
    await collection.insert_one({"warm": True})
    counts = [0] * tasks
    calls: list[float] = []
    deadline = time.perf_counter() + seconds

    async def issue(task: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            inserted = await collection.insert_one({"task": task, "n": counts[task]})
            await collection.find_one({"_id": inserted.inserted_id})
            calls.append(time.perf_counter() - started)
            counts[task] += 2

    await asyncio.gather(*(issue(t) for t in range(tasks)))
    await client.close()
    alone = statistics.median(calls) / tasks  # the server's time for one pair, shared by all
    return {
        "commands per coroutine": counts,
        "median pair s": round(statistics.median(calls), 4),
        "longest pair s": round(max(calls), 3),
        "longest wait s": round(max(calls) - alone, 3),
        "fewest/most": round(min(counts) / max(counts), 3),
    }


async def _both(url: str, tasks: int, seconds: float) -> None:
    for name, pool_class in (("PyMongo's pool", None), ("FairPool", FairPool)):
        print(f"{name}: {await _share(url, pool_class, tasks, seconds)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--standalone", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bcu-pool-") as workdir:
        mongo, url = start_mongo(Path(workdir) / "db", standalone=args.standalone)
        try:
            asyncio.run(_both(url, args.tasks, args.seconds))
        finally:
            stop_all([mongo])


if __name__ == "__main__":
    main()
