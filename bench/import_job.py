"""End-to-end import throughput: a whole job through real Dramatiq workers, from the upload
being accepted to the report being stored.

    .venv/bin/python -m bench.import_job [--rows 100000] [--processes 2] [--threads 2]

Starts its own SecantusDB and redis-server (the embedded defaults of `make run`) and one
`dramatiq workers.actors` with the given processes and threads. Half the file's rows update
customers imported by a first, smaller job, so both inserts and updates are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.pipeline import generate
from config import Settings
from domain.actions import Action
from domain.import_config import ImportConfig
from stack.processes import (
    VENV_BIN,
    Child,
    start_mongo,
    start_redis,
    stop_all,
)

BENCH_DATABASE = "bcu_bench"
FINISHED = ("completed", "failed", "cancelled")


async def run_job(content: bytes, action: Action, settings: Settings) -> tuple[float, dict]:  # type: ignore[type-arg]
    from store import jobs
    from workers.actors import dispatcher

    config = ImportConfig(deduplication_keys=["email"], action=action)
    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        started = time.perf_counter()
        job = await jobs.create_job(upload, "bench.csv", config, "bench", dispatcher, settings)
    while True:
        job = await jobs.get_job(str(job.id))
        if job.status.value in FINISHED:
            return time.perf_counter() - started, job.counts.model_dump()
        await asyncio.sleep(0.2)


async def run(rows: int, settings: Settings) -> None:
    from store import db

    database = await db.connect(settings)
    await db.client().drop_database(settings.mongodb_database)
    await db.initialise(database)
    content = generate(rows)
    seed = b"\r\n".join(content.splitlines()[: rows // 2 + 1])
    seconds, counts = await run_job(seed, Action.IGNORE, settings)
    print(f"first job, {rows // 2} new rows: {seconds:.1f} s, {rows // 2 / seconds:.0f} rows/s")
    seconds, counts = await run_job(content, Action.UPDATE, settings)
    print(f"second job, {rows} rows (half updates): {seconds:.1f} s, {rows / seconds:.0f} rows/s")
    print(f"    counts {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bcu-bench-"))
    children = []
    try:
        mongo, mongo_url = start_mongo(workdir / "db", workdir / "mongodb.log")
        children.append(mongo)
        redis, redis_url = start_redis(workdir / "redis", workdir / "redis.log")
        children.append(redis)
        env = {
            **os.environ,
            "MONGODB_URL": mongo_url,
            "REDIS_URL": redis_url,
            "MONGODB_DATABASE": BENCH_DATABASE,
        }
        os.environ.update(env)  # the broker reads REDIS_URL when workers.actors is imported
        argv = [str(VENV_BIN / "python"), "-m", "dramatiq", "workers.actors"]
        argv += ["--processes", str(args.processes), "--threads", str(args.threads)]
        children.append(Child("worker", argv, env, workdir / "worker.log").start())
        print(f"{args.processes} worker processes x {args.threads} threads; logs in {workdir}")
        asyncio.run(run(args.rows, Settings()))
    finally:
        stop_all(children)


if __name__ == "__main__":
    main()
