"""What the recovery check takes the broker to hold (workers.backlog), on a real Redis: a
message waiting in the queue is held however long it waits; one a worker fetched, or a
retry that fell due, is held for a lease's length, after which its step (still untaken,
or the check would not ask) is driven again."""

from __future__ import annotations

import time

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from store.jobs.steps import BATCH
from workers.backlog import RedisBacklog

LEASE_SECONDS = 1.0


def _batch_message(batch_id: str) -> Message[None]:
    return Message(
        queue_name="imports", actor_name="process_batch", args=(batch_id,), kwargs={}, options={}
    )


def test_a_message_waiting_in_the_queue_is_held_however_long_it_waits(redis_url: str) -> None:
    sender = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    backlog = RedisBacklog(redis_url, LEASE_SECONDS)
    sender.enqueue(_batch_message("waiting"))
    assert backlog.queued().held(BATCH) == {"waiting"}
    time.sleep(LEASE_SECONDS * 2)
    assert backlog.queued().held(BATCH) == {"waiting"}


def test_a_message_fetched_by_a_worker_that_never_runs_it_is_held_for_a_lease(
    redis_url: str,
) -> None:
    sender = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    backlog = RedisBacklog(redis_url, LEASE_SECONDS)
    sender.enqueue(_batch_message("fetched"))
    # A worker that fetches it and goes on heartbeating, but never runs it nor
    # acknowledges it (as one whose stop hung did).
    stuck_worker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    assert stuck_worker.do_fetch("imports", 1) != []
    assert backlog.queued().held(BATCH) == {"fetched"}
    deadline = time.monotonic() + LEASE_SECONDS * 10
    while "fetched" in backlog.queued().held(BATCH):
        assert time.monotonic() < deadline, "a message nobody runs was held for good"
        stuck_worker.do_fetch("imports", 0)  # a heartbeat: the worker looks alive
        time.sleep(0.1)
    # Not because Dramatiq gave it back to the queue (the worker is alive).
    assert sender.client.llen(f"{sender.namespace}:imports") == 0


def test_a_retry_is_held_until_a_lease_after_it_fell_due(redis_url: str) -> None:
    sender = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    backlog = RedisBacklog(redis_url, LEASE_SECONDS)
    sender.enqueue(_batch_message("retried"), delay=1000)  # no worker moves it when due
    due = time.monotonic() + 1.0
    assert backlog.queued().held(BATCH) == {"retried"}
    while time.monotonic() < due + LEASE_SECONDS * 0.5:
        assert backlog.queued().held(BATCH) == {"retried"}
        time.sleep(0.1)
    deadline = due + LEASE_SECONDS * 10
    while "retried" in backlog.queued().held(BATCH):
        assert time.monotonic() < deadline, "an overdue retry was held for good"
        time.sleep(0.1)
