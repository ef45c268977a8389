"""`kill -USR1 <worker process>` writes where it waits to its stderr (the worker log): every
thread's stack, and every asyncio task's, awaiting coroutines included. A thread dump alone
shows an event loop in select(); the tasks say which await holds a delivery."""

from __future__ import annotations

import asyncio
import faulthandler
import io
import os
import signal
from typing import Any

from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware


def _write(text: str) -> None:
    # Straight to the file descriptor: a signal handler must not wait on logging's locks.
    os.write(2, text.encode(errors="replace"))


def dump_tasks() -> None:
    _write(f"--- worker process {os.getpid()}: threads ---\n")
    faulthandler.dump_traceback(all_threads=True)
    thread = get_event_loop_thread()
    if thread is None:
        return
    # Read from another thread than the loop's: good enough for a snapshot of a stuck loop.
    tasks = asyncio.all_tasks(thread.loop)
    _write(f"--- worker process {os.getpid()}: {len(tasks)} asyncio task(s) ---\n")
    for task in tasks:
        out = io.StringIO()
        task.print_stack(file=out)
        _write(out.getvalue())


class TaskDump(Middleware):
    def after_process_boot(self, broker: Any) -> None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: dump_tasks())
