"""The Redis broker with the AsyncIO middleware, configured from Settings at import."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO

from config import get_settings

QUEUE = "imports"


def make_broker(redis_url: str) -> RedisBroker:
    broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    broker.add_middleware(AsyncIO())
    return broker


settings = get_settings()
if not settings.redis_url:
    raise RuntimeError("REDIS_URL is not set")
broker = make_broker(settings.redis_url)
dramatiq.set_broker(broker)
