"""Seconds of one import's planning and batches, and how busy the database server and this
process (the worker's part) were over the batches, on a SecantusDB of its own, without the
profiler (which slows the server by about a quarter):

    .venv/bin/python -m bench.batch_wall [--rows 40000] [--case dup100-replace]
        [--mode "replica set" | standalone]

The cases are bench.server_profile's; the batches run 4 at a time on one event loop with
`WORKER_DATABASE_COMMANDS` connections, as in a worker process. "server busy" is the server's
CPU seconds over the batches per second of them: below 1, it waited for this process. Run it
in a fresh process per measurement (store.db binds the documents once per process), and
alternate the code compared: the machine's own noise is 10-20%.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from bench.server_profile import (
    case_arguments,
    case_file,
    on_own_server,
    planned_import,
    run_batches,
)
from config import Settings

DATABASE = "bcu_batch_wall"


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def run_import(path: Path, action: str, settings: Settings, timed: bool) -> None:
    started = time.perf_counter()
    _, batch_ids = await planned_import(path, action, settings)
    this = psutil.Process(os.getpid())
    (server,) = [c for c in this.children() if "secantus" in " ".join(c.cmdline())]
    cpu_before = _cpu_seconds(server), _cpu_seconds(this)
    batches_started = time.perf_counter()
    await run_batches(batch_ids, settings)
    seconds = time.perf_counter() - batches_started
    if timed:
        server_busy = (_cpu_seconds(server) - cpu_before[0]) / seconds
        worker_busy = (_cpu_seconds(this) - cpu_before[1]) / seconds
        print(
            f"planning {batches_started - started:.2f} s, batches {seconds:.2f} s, "
            f"server busy {server_busy:.2f}, this process {worker_busy:.2f}"
        )


async def measure(case: str, rows: int, settings: Settings, files: Path) -> None:
    path, action = await case_file(
        case, rows, files, lambda seed: run_import(seed, "ignore", settings, timed=False)
    )
    print(f"{case}, {rows:,} rows:", end=" ")
    await run_import(path, action, settings, timed=True)


def main() -> None:
    args = case_arguments(__doc__, rows=40_000, case="dup100-replace").parse_args()
    on_own_server(
        args.mode, DATABASE, lambda settings, files: measure(args.case, args.rows, settings, files)
    )


if __name__ == "__main__":
    main()
