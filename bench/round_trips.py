"""Database round trips to process one 1,000-row batch, for each action.

    .venv/bin/python -m bench.round_trips [--rows 1000] [--existing 500]

Counts every command the worker's batch step sends to MongoDB (PyMongo command
monitoring), for a batch whose rows half match existing customers by email. Starts its own
SecantusDB unless MONGODB_URL is set (then it uses the database `bcu_bench`, dropped first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from pymongo import monitoring

from bench.pipeline import generate
from config import Settings
from domain.actions import Action
from domain.import_config import ImportConfig
from stack.processes import start_mongo, stop_all

BENCH_DATABASE = "bcu_bench"


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.server_ms: Counter[str] = Counter()
        self.counting = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.counting:
            self.server_ms[event.command_name] += event.duration_micros / 1000

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class NoDispatch:
    """Planning and completion are not part of the batch step being counted."""

    def plan(self, job_id: str) -> None:
        pass

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        pass

    def finalize(self, job_id: str) -> None:
        pass

    def revert(self, revert_id: str) -> None:
        pass


async def count_batch(
    action: Action, rows: int, existing: int, settings: Settings, counter: CommandCounter
) -> tuple[Counter[str], float]:
    from store import db, jobs
    from store.documents import ImportBatch

    database = await db.connect(settings)
    await db.client().drop_database(settings.mongodb_database)
    await db.initialise(database)
    content = generate(rows)
    # The existing customers have a name and an email only, so that every action but
    # ignore has something to write for each matching row.
    seed_rows = [line.split(",")[:3] for line in content.decode().splitlines()[: existing + 1]]
    seed = "\r\n".join(",".join(cells) for cells in seed_rows).encode()
    config = ImportConfig(deduplication_keys=["email"], action=action, batch_size=rows)
    await _import_directly(seed, ImportConfig(deduplication_keys=["email"]), settings)
    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        job = await jobs.create_job(upload, "bench.csv", config, "bench", NoDispatch(), settings)
    await jobs.plan_job(str(job.id), NoDispatch(), settings)
    batch = await ImportBatch.find_one(ImportBatch.job_id == str(job.id))
    assert batch is not None and len(batch.rows) == rows
    counter.commands.clear()
    counter.server_ms.clear()
    counter.counting = True
    started = time.perf_counter()
    await jobs.process_batch(batch.id, NoDispatch(), settings)
    seconds = time.perf_counter() - started
    counter.counting = False
    return Counter(counter.commands), seconds


async def _import_directly(content: bytes, config: ImportConfig, settings: Settings) -> None:
    """Seed the existing customers through the same pipeline, without counting."""
    from store import jobs
    from store.documents import ImportBatch

    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        job = await jobs.create_job(upload, "seed.csv", config, "bench", NoDispatch(), settings)
    await jobs.plan_job(str(job.id), NoDispatch(), settings)
    async for batch in ImportBatch.find(ImportBatch.job_id == str(job.id)):
        await jobs.process_batch(batch.id, NoDispatch(), settings)


async def report_all(rows: int, existing: int, settings: Settings, counter: CommandCounter) -> None:
    for action in Action:
        commands, seconds = await count_batch(action, rows, existing, settings, counter)
        detail = ", ".join(f"{name} {n}" for name, n in sorted(commands.items()))
        print(
            f"{action.value:8} {sum(commands.values()):3} round trips "
            f"({detail}); {seconds * 1000:.0f} ms, of which waiting on MongoDB "
            f"{sum(counter.server_ms.values()):.0f} ms"
        )
        print("   ", {k: round(v) for k, v in counter.server_ms.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--existing", type=int, default=500)
    parser.add_argument("--lookup-chunk-size", type=int, default=Settings().lookup_chunk_size)
    args = parser.parse_args()
    counter = CommandCounter()
    monitoring.register(counter)  # before the client exists, so it sees every command
    started = []
    url = os.environ.get("MONGODB_URL")
    if not url:
        mongo, url = start_mongo(Path(tempfile.mkdtemp(prefix="bcu-bench-")) / "db")
        started.append(mongo)
    settings = Settings(
        mongodb_url=url,
        mongodb_database=BENCH_DATABASE,
        batch_size=args.rows,
        lookup_chunk_size=args.lookup_chunk_size,
    )
    try:
        print(
            f"one batch of {args.rows} rows, {args.existing} of them match existing customers; "
            f"lookups in chunks of {args.lookup_chunk_size} values"
        )
        asyncio.run(report_all(args.rows, args.existing, settings, counter))
    finally:
        stop_all(started)


if __name__ == "__main__":
    main()
