"""Where the database server spends its time in one import's batches: the server's own
profiler (level 2) during the batches, its time summed by collection and operation.

    .venv/bin/python -m bench.server_profile [--rows 5000] [--case dup100-replace]
        [--mode "replica set" | standalone] [--undo]

Cases: `new` (all new, ignore), `dup50-<action>` (the seed of rows/2, then half the file
matches) and `dup100-replace` (the seed of all the rows, then every row matches). The seed
is imported first, unprofiled; the batches run 4 at a time, as `make run`'s workers do. With
`--undo`, the import runs unprofiled and its revert is profiled. Starts its own SecantusDB (the
SecantusDB's profiler; a real MongoDB's works the same)."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bench import data
from bench.harness import REPLICA_SET, STANDALONE, WORKER_THREADS
from bench.round_trips import NoDispatch
from config import Settings
from domain.actions import Action
from domain.import_config import ImportConfig
from stack.processes import start_mongo, stop_all

DATABASE = "bcu_profile"
CASES = ["new", "dup100-replace", *(f"dup50-{a.value}" for a in Action)]  # see case_file


class Recorded(NoDispatch):
    def __init__(self) -> None:
        self.batches: list[str] = []

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        self.batches.append(batch_id)


async def planned_import(path: Path, action: str, settings: Settings) -> tuple[str, list[str]]:
    """An import of `path` (deduplicated by email), created and planned: its id, its batches."""
    from store import db, jobs

    await db.connect(settings, settings.worker_database_commands)
    config = ImportConfig.model_validate({"deduplicationKeys": ["email"], "action": action})
    with path.open("rb") as upload:
        job = await jobs.create_job(upload, path.name, config, "bench", NoDispatch(), settings)
    planned = Recorded()
    await jobs.plan_job(str(job.id), planned, settings)
    return str(job.id), planned.batches


async def run_batches(batch_ids: list[str], settings: Settings) -> None:
    """The batches, WORKER_THREADS at a time on this event loop, as a worker process runs them."""
    from store import jobs

    running = asyncio.Semaphore(WORKER_THREADS)

    async def one(batch_id: str) -> None:
        async with running:
            await jobs.process_batch(batch_id, NoDispatch(), settings)

    await asyncio.gather(*(one(b) for b in batch_ids))


async def run_import(path: Path, action: str, settings: Settings, profile: bool) -> str:
    from store import db, jobs

    job_id, batch_ids = await planned_import(path, action, settings)
    database = await db.connect(settings, settings.worker_database_commands)
    if profile:
        await database.command("profile", 2)
    started = time.perf_counter()
    await run_batches(batch_ids, settings)
    if profile:
        print(f"batches: {time.perf_counter() - started:.1f} s wall")
        await database.command("profile", 0)
    await jobs.finalize_job(job_id, settings)
    return job_id


async def run_revert(import_id: str, settings: Settings) -> None:
    from store import db, jobs
    from store.principal import Principal, Role

    database = await db.connect(settings, settings.worker_database_commands)
    revert = await jobs.start_revert(
        import_id, Principal("bench", Role.ADMIN, "bench"), NoDispatch()
    )
    await database.command("profile", 2)
    started = time.perf_counter()
    await jobs.run_revert(str(revert.id), settings)
    print(f"revert: {time.perf_counter() - started:.1f} s wall")
    await database.command("profile", 0)


async def case_file(
    case: str, rows: int, files: Path, seed: Callable[[Path], Coroutine[Any, Any, object]]
) -> tuple[Path, str]:
    """The file of `case` and its action, once `seed` has imported what it must match."""
    if case == "new":
        return data.all_new_file(files, rows), "ignore"
    if case == "dup100-replace":
        await seed(data.all_new_file(files, rows))
        return data.all_matching_file(files, rows), "replace"
    seed_file, path = data.duplicates_files(files, rows)
    await seed(seed_file)
    return path, case.removeprefix("dup50-")


async def profile_case(case: str, rows: int, settings: Settings, files: Path, undo: bool) -> None:
    from store import db

    path, action = await case_file(
        case, rows, files, lambda seed: run_import(seed, "ignore", settings, profile=False)
    )
    import_id = await run_import(path, action, settings, profile=not undo)
    if undo:
        await run_revert(import_id, settings)
    spent: Counter[tuple[str, str]] = Counter()
    count: Counter[tuple[str, str]] = Counter()
    async for entry in (await db.connect(settings))["system.profile"].find({}):
        key = (entry.get("ns", "?").split(".", 1)[-1], str(entry.get("op")))
        spent[key] += entry.get("millis") or 0
        count[key] += 1
    total = sum(spent.values()) or 1
    work = "the revert" if undo else "the batches"
    print(f"{case}, {rows:,} rows: server time in {work} {total / 1000:.1f} s")
    for (collection, op), millis in spent.most_common(8):
        share = 100 * millis / total
        print(f"  {collection:20} {op:8} {share:5.1f}%  {count[(collection, op)]} commands")


def case_arguments(
    doc: str, rows: int, case: str, cases: Sequence[str] = CASES
) -> argparse.ArgumentParser:
    """The options every one-case tool takes: --rows, --case and the server's --mode."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--case", choices=cases, default=case)
    parser.add_argument("--mode", choices=[REPLICA_SET, STANDALONE], default=REPLICA_SET)
    return parser


def main() -> None:
    parser = case_arguments(__doc__, rows=5000, case="dup100-replace")
    parser.add_argument("--undo", action="store_true", help="profile the import's revert")
    args = parser.parse_args()
    on_own_server(
        args.mode,
        DATABASE,
        lambda settings, files: profile_case(args.case, args.rows, settings, files, args.undo),
    )


def on_own_server(
    mode: str, database: str, body: Callable[[Settings, Path], Coroutine[Any, Any, None]]
) -> None:
    """Run `body(settings, files directory)` against a SecantusDB of its own in `mode`."""
    workdir = Path(tempfile.mkdtemp(prefix="bcu-bench-"))
    mongo, url = start_mongo(workdir / "db", workdir / "db.log", standalone=mode == STANDALONE)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing is sent
    try:
        print(f"SecantusDB, {mode}")
        asyncio.run(body(Settings(mongodb_url=url, mongodb_database=database), workdir / "files"))
    finally:
        stop_all([mongo])


if __name__ == "__main__":
    main()
