"""A worker's consumer of an idle queue looks at it again at least every
WORKER_IDLE_POLL_MS (Dramatiq's own consumer backs off to the worker's timeout, 1 s, so a
job's next step could wait that long for a worker), against a real Redis. The backoff's
sleeps are recorded instead of slept."""

from __future__ import annotations

import threading

import pytest
from dramatiq.brokers import redis as dramatiq_redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.worker import WORKER_TIMEOUT

from workers.broker import PromptRedisBroker

LOOKS = 20  # enough misses for Dramatiq's backoff to reach its cap


def idle_sleeps(broker: RedisBroker, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds an idle consumer sleeps between its looks at an empty queue, as a worker
    creates it (its timeout: Dramatiq's worker timeout). `time.sleep` is the whole
    process's: only this thread's sleeps are recorded, another thread's (one left by an
    earlier test in this process) still sleep, instead of looping on a sleep that returns
    at once."""
    sleeps: list[float] = []
    this_thread, sleep = threading.get_ident(), dramatiq_redis.time.sleep

    def recorded(seconds: float) -> None:
        if threading.get_ident() == this_thread:
            sleeps.append(seconds)
        else:
            sleep(seconds)

    monkeypatch.setattr(dramatiq_redis.time, "sleep", recorded)
    broker.declare_queue("idle")
    consumer = broker.consume("idle", prefetch=1, timeout=WORKER_TIMEOUT)
    for _ in range(LOOKS):
        assert next(consumer) is None  # nothing came
    consumer.close()
    return sleeps


def test_an_idle_queue_is_looked_at_every_idle_poll_at_most(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = idle_sleeps(PromptRedisBroker(redis_url, idle_poll_ms=100), monkeypatch)
    assert len(sleeps) == LOOKS
    assert max(sleeps) <= 0.1
    assert max(sleeps) >= 0.05  # backed off all the same: no busy loop on Redis


def test_dramatiqs_own_consumer_backs_off_to_the_worker_timeout(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the cap is for: the plain broker's idle consumer sleeps up to a second."""
    sleeps = idle_sleeps(RedisBroker(url=redis_url), monkeypatch)  # type: ignore[no-untyped-call]
    assert max(sleeps) > 0.1
    assert max(sleeps) <= WORKER_TIMEOUT / 1000
