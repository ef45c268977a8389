"""The Redis broker with the AsyncIO middleware, configured from Settings at import."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any

import dramatiq
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware

from config import get_settings, logs
from config.parent_death import stop_with_parent
from workers.diagnostics import TaskDump
from workers.step_context import StepContext

EXIT_CODE_SHUTDOWN_DEADLINE = 3


class WorkerLifetime(Middleware):
    """Bounds a worker process's life by its parent's and by a stop request.

    A worker process whose Dramatiq main process died is told to stop (it would otherwise go
    on alone), and a worker told to stop exits `shutdown_seconds` later whatever it still
    waits for. Dramatiq's own stop can hang (its threads retry a failed acknowledgement
    forever) or never run (seen in the worker processes of a main process that died), while
    the consumers go on: such a worker kept reconnecting to its Redis's address and took
    messages it would never run. What it had not acknowledged is delivered again: every
    step is safe to repeat."""

    def __init__(self, shutdown_seconds: float) -> None:
        self.shutdown_seconds = shutdown_seconds

    def after_process_boot(self, broker: Any) -> None:
        # Runs in the worker process's main thread, after Dramatiq set its stop handler.
        dramatiq_handler = signal.getsignal(signal.SIGTERM)

        def on_stop(signum: int, frame: Any) -> None:
            self._exit_later()
            if callable(dramatiq_handler):
                dramatiq_handler(signum, frame)

        signal.signal(signal.SIGTERM, on_stop)
        stop_with_parent(signal.SIGTERM)
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # it died before the request
            os.kill(os.getpid(), signal.SIGTERM)

    def _exit_later(self) -> None:
        def exit_now() -> None:
            # Straight to stderr: Dramatiq's logging goes through the main process, maybe dead.
            note = f"worker process {os.getpid()} still stopping after "
            os.write(2, f"{note}{self.shutdown_seconds:.0f} s: exiting now\n".encode())
            os._exit(EXIT_CODE_SHUTDOWN_DEADLINE)

        timer = threading.Timer(self.shutdown_seconds, exit_now)
        timer.daemon = True
        timer.start()


class PromptRedisBroker(RedisBroker):
    """Dramatiq's Redis broker whose consumers look at an idle queue at least every
    `idle_poll_ms` (Settings.worker_idle_poll_ms): Dramatiq backs an idle consumer off up to
    the worker's timeout, 1 s by default, and each step of a job (its planning, its batches,
    its report) comes to a queue that was idle."""

    def __init__(self, url: str, idle_poll_ms: int) -> None:
        super().__init__(url=url)  # type: ignore[no-untyped-call]
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        return super().consume(queue_name, prefetch, min(timeout, self.idle_poll_ms))


def make_broker(redis_url: str, shutdown_seconds: float, idle_poll_ms: int) -> RedisBroker:
    broker = PromptRedisBroker(redis_url, idle_poll_ms)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(WorkerLifetime(shutdown_seconds))
    broker.add_middleware(TaskDump())
    broker.add_middleware(StepContext())
    return broker


settings = get_settings()
# In a worker process, Dramatiq has pointed stdout at its log pipe by now: the lines go there.
logs.configure(settings)
if not settings.redis_url:
    raise RuntimeError("REDIS_URL is not set")
broker = make_broker(
    settings.redis_url, settings.worker_shutdown_seconds, settings.worker_idle_poll_ms
)
dramatiq.set_broker(broker)
