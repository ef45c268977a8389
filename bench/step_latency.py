"""How long an import waits between its steps: small imports one after the other through the
HTTP API with `make run`'s processes, each timed from its POST to the poll (every 20 ms) that
saw it finished; and the worker processes' CPU while nothing runs. Once per
WORKER_IDLE_POLL_MS given, on one SecantusDB (replica-set mode) and Redis.

    .venv/bin/python -m bench.step_latency [--imports 10] [--rows 20] [--gap 3]
        [--idle-poll-ms 1000 200 100]

A small import's planning, batch and report take milliseconds; what is left is the time each
step's message waits before a worker takes it from its queue (three steps: planning, the
batch, the report). Imports start `--gap` seconds apart, so that the queues are idle when each
starts, as for a person's import (back to back, the queues stay busy).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from bench import data
from bench.api_import import FINISHED, import_parts
from bench.harness import API_KEY, REPLICA_SET, AppStack, start_servers
from stack.processes import Child, stop_all

POLL_SECONDS = 0.02
SETTLE_SECONDS = 5.0
IDLE_SECONDS = 10.0


def one_import(client: httpx.Client, path: Path) -> float:
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    with path.open("rb") as file:
        started = time.perf_counter()
        answer = client.post("/imports", files=import_parts(config, file, path.name))
    answer.raise_for_status()
    job_id = answer.json()["id"]
    while True:
        job = client.get(f"/imports/{job_id}").raise_for_status().json()
        if job["status"] in FINISHED:
            if job["status"] != "completed":
                raise RuntimeError(f"import {job_id} ended {job['status']}: {job.get('error')}")
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)


def idle_cpu(pid: int) -> float:
    """Cores the worker processes (the Dramatiq main process and its children) use while
    nothing is queued."""
    main = psutil.Process(pid)

    def cpu() -> float:
        total = 0.0
        for process in [main, *main.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    before, started = cpu(), time.perf_counter()
    time.sleep(IDLE_SECONDS)
    return (cpu() - before) / (time.perf_counter() - started)


def measure(
    servers_dir: Path, files: Path, imports: int, rows: int, gap: float, poll_ms: int
) -> None:
    children: list[Child] = []
    try:
        servers = start_servers(servers_dir, children, REPLICA_SET)
        env = {"WORKER_IDLE_POLL_MS": str(poll_ms)}
        with AppStack(servers, files / f"app-{poll_ms}", make_run=True, env=env) as stack:
            time.sleep(SETTLE_SECONDS)
            assert stack.workers.proc is not None
            idle = idle_cpu(stack.workers.proc.pid)
            path = data.all_new_file(files, rows)
            headers = {"Authorization": f"Bearer {API_KEY}"}
            with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as client:
                one_import(client, path)  # warm-up: first imports load code and caches
                seconds = []
                for _ in range(imports):
                    time.sleep(gap)
                    seconds.append(one_import(client, path))
    finally:
        stop_all(children)
    print(
        f"WORKER_IDLE_POLL_MS={poll_ms}: {imports} imports of {rows} rows, {gap:g} s apart, "
        "POST to completed "
        f"median {statistics.median(seconds):.3f} s, mean {statistics.mean(seconds):.3f} s, "
        f"max {max(seconds):.3f} s; workers idle {idle * 100:.1f}% of a core",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--gap", type=float, default=3.0)
    parser.add_argument("--idle-poll-ms", type=int, nargs="+", default=[1000, 200, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bcu-latency-") as workdir:
        files = Path(workdir)
        for poll_ms in args.idle_poll_ms:
            servers = files / f"servers-{poll_ms}"
            measure(servers, files, args.imports, args.rows, args.gap, poll_ms)


if __name__ == "__main__":
    main()
