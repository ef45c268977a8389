"""Seconds of an import's planning alone (read and check every row, group them, read the
claims of the file's values, store the batches), on a SecantusDB of its own.

    .venv/bin/python -m bench.planning [--rows 100000] [--case new|dup50|dup100|lookups]
        [--mode "replica set" | standalone] [--repeat 3] [--file-rows N]

`new` plans an all-new file on an empty database; `dup50` imports the seed of rows/2 first
(batches and all), then plans the 50%-duplicates file (planning scans the claims: the
customer base is small for the file); `dup100` imports the all-new file, then plans the
all-matching one; `lookups` imports the all-new file, then plans the first fifth of the
all-matching one, or its first `--file-rows` (a customer base large for the file: planning
looks its values up).
Each repeat plans a new job of the same file (planning writes nothing but its batches, so
the claims read are the same each time). Planning runs on one event loop with
`WORKER_DATABASE_COMMANDS` connections, as in a worker process.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import data
from bench.round_trips import NoDispatch
from bench.server_profile import Recorded, case_arguments, on_own_server, run_import
from config import Settings
from domain.import_config import ImportConfig

DATABASE = "bcu_planning"


async def plan_once(path: Path, settings: Settings) -> float:
    from store import db, jobs

    await db.connect(settings, settings.worker_database_commands)
    config = ImportConfig.model_validate({"deduplicationKeys": ["email"], "action": "update"})
    with path.open("rb") as upload:
        job = await jobs.create_job(upload, path.name, config, "bench", NoDispatch(), settings)
    started = time.perf_counter()
    await jobs.plan_job(str(job.id), Recorded(), settings)
    return time.perf_counter() - started


async def run(
    case: str, rows: int, repeat: int, file_rows: int | None, settings: Settings, files: Path
) -> None:
    if case == "new":
        path = data.all_new_file(files, rows)
    elif case == "dup50":
        seed, path = data.duplicates_files(files, rows)
        await run_import(seed, "ignore", settings, profile=False)
    else:
        await run_import(data.all_new_file(files, rows), "ignore", settings, profile=False)
        path = data.all_matching_file(files, rows)
        if case == "lookups":
            path = _first_rows(path, file_rows or rows // 5)
    for attempt in range(1, repeat + 1):
        seconds = await plan_once(path, settings)
        planned = f" (planned: the first {file_rows:,})" if case == "lookups" and file_rows else ""
        print(f"{case}, {rows:,} rows{planned}, planning {attempt}: {seconds:.2f} s", flush=True)


def _first_rows(path: Path, rows: int) -> Path:
    part = path.with_name(f"first-{rows}-{path.name}")
    with path.open("rb") as source, part.open("wb") as target:
        for _ in range(rows + 1):  # and the header
            target.write(source.readline())
    return part


def main() -> None:
    cases = ["new", "dup50", "dup100", "lookups"]
    parser = case_arguments(__doc__, rows=100_000, case="dup50", cases=cases)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file-rows", type=int, help="of the file planned, for `lookups`")
    args = parser.parse_args()
    on_own_server(
        args.mode,
        DATABASE,
        lambda settings, files: run(
            args.case, args.rows, args.repeat, args.file_rows, settings, files
        ),
    )


if __name__ == "__main__":
    main()
