"""The Redis broker with the AsyncIO middleware, configured from Settings at import."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware

from config import get_settings

QUEUE = "imports"
EXIT_CODE_SHUTDOWN_DEADLINE = 3
log = logging.getLogger(__name__)


class ShutdownDeadline(Middleware):
    """Ends a worker process `seconds` after it was told to stop, whatever it still waits
    for. Dramatiq's worker threads retry a failed acknowledgement forever, so a worker whose
    Redis went away first (a test session or `make run` killed hard) would never exit. What
    it had not acknowledged is delivered again: every step is safe to repeat."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        def exit_now() -> None:
            log.warning("still stopping after %.0f s: exiting now", self.seconds)
            logging.shutdown()
            os._exit(EXIT_CODE_SHUTDOWN_DEADLINE)

        timer = threading.Timer(self.seconds, exit_now)
        timer.daemon = True
        timer.start()


def make_broker(redis_url: str, shutdown_seconds: float) -> RedisBroker:
    broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    broker.add_middleware(AsyncIO())
    broker.add_middleware(ShutdownDeadline(shutdown_seconds))
    return broker


settings = get_settings()
if not settings.redis_url:
    raise RuntimeError("REDIS_URL is not set")
broker = make_broker(settings.redis_url, settings.worker_shutdown_seconds)
dramatiq.set_broker(broker)
