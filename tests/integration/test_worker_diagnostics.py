"""`kill -USR1` on a real worker process writes its threads' and asyncio tasks' stacks to
the worker's log, and the worker goes on running imports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import psutil

from stack.processes import Child
from tests.helpers import csv_bytes, import_form, wait_for_job


def catches_sigusr1(pid: int) -> bool:
    """Whether the process has a SIGUSR1 handler (before that, the signal would end it)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))


def booted_worker_process(worker: Child) -> psutil.Process:
    assert worker.proc is not None
    deadline = time.monotonic() + 60
    while True:
        children = psutil.Process(worker.proc.pid).children()
        if children and catches_sigusr1(children[0].pid):
            return children[0]
        assert time.monotonic() < deadline, "no worker process booted"
        time.sleep(0.1)


async def test_sigusr1_dumps_a_worker_process_stacks_and_it_goes_on(
    api, database, worker: Child, workdir: Path, admin_headers: dict[str, str]
) -> None:
    log = workdir / "worker.log"
    dumped = booted_worker_process(worker)
    os.kill(dumped.pid, signal.SIGUSR1)

    threads = f"--- worker process {dumped.pid}: threads ---"
    tasks = re.compile(rf"--- worker process {dumped.pid}: \d+ asyncio task\(s\) ---")
    deadline = time.monotonic() + 30
    while not (threads in (text := log.read_text(errors="replace")) and tasks.search(text)):
        assert time.monotonic() < deadline, f"no dump in the worker's log: {text[-2000:]}"
        await asyncio.sleep(0.1)
    assert dumped.is_running()

    form = import_form(
        csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"]]),
        {"deduplicationKeys": ["email"], "action": "ignore"},
    )
    created = await api.post("/imports", headers=admin_headers, **form)
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["status"] == "completed", job
