"""What the Redis broker holds for the import queues and the webhook queue, for the recovery
check (store.jobs.recovery, store.webhooks): messages waiting in a queue, fetched by a
worker a moment ago, or delayed for a retry that is not overdue. A queue added to the
workers must be added to QUEUES."""

from __future__ import annotations

import time

from dramatiq import Message
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

from store.jobs import Queued
from store.jobs.steps import STEPS
from workers.queues import IMPORT_QUEUES
from workers.webhooks import WEBHOOK_QUEUE

QUEUES = (*IMPORT_QUEUES, WEBHOOK_QUEUE)
RUN_SCHEDULE, DELIVER_WEBHOOK = "run_schedule", "deliver_webhook"
# What each actor's messages hold, named by the step's actor (a batch has two actors).
HELD_AS = {actor: step.actor for step in STEPS for actor in step.actors} | {
    RUN_SCHEDULE: RUN_SCHEDULE,
    DELIVER_WEBHOOK: DELIVER_WEBHOOK,
}


class RedisBacklog:
    """Reads the broker's own data: `<ns>:<queue>` lists the messages waiting their turn,
    and `<ns>:<queue>.msgs` has the body of every message not acknowledged yet (waiting, or
    fetched by a worker); the delay queue has the same, with each retry's due time.

    A message counts as held while it waits in the queue, however long (a backlog), and for
    `lease_seconds` after it was fetched or fell due. The recovery check asks only about
    steps nobody holds a lease on, and a worker takes a step's lease as soon as it starts it:
    a message fetched that long ago for a step still untaken is not being worked on (a
    worker that stopped midway and still heartbeats, a copy left behind), and the step is
    driven again. A copy too many finds the step done or leased, and does nothing."""

    def __init__(self, redis_url: str, lease_seconds: float) -> None:
        # Dramatiq's own maintenance, on every call: what worker processes silent for a
        # lease's length had fetched goes back to the queue (Dramatiq waits a minute by
        # default, and runs it on a random share of its calls). Live workers are heard from
        # every second.
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=redis_url,
            heartbeat_timeout=int(lease_seconds * 1000),
            maintenance_chance=MAINTENANCE_SCALE,
        )
        self.lease_seconds = lease_seconds
        self._fetched_at: dict[bytes, float] = {}  # Redis message id → first seen fetched

    def queued(self) -> Queued:
        held: dict[str, set[str]] = {kind: set() for kind in HELD_AS.values()}
        now = time.time()
        namespace = self.broker.namespace
        client = self.broker.client
        fetched_at: dict[bytes, float] = {}
        for queue in QUEUES:
            delayed = f"{queue}.DQ"  # Dramatiq's delay queue of `queue`: retries wait there
            for name in (queue, delayed):
                self.broker.do_qsize(name)  # runs the maintenance above, for this queue
            waiting = {_raw(m) for m in client.lrange(f"{namespace}:{queue}", 0, -1)}
            for key, value in client.hgetall(f"{namespace}:{queue}.msgs").items():
                redis_id, body = _raw(key), _raw(value)
                if redis_id not in waiting:
                    fetched_at[redis_id] = self._fetched_at.get(redis_id, now)
                    if now - fetched_at[redis_id] > self.lease_seconds:
                        continue
                _add(held, body)
            for value in client.hvals(f"{namespace}:{delayed}.msgs"):
                body = _raw(value)
                due = Message.decode(body).options.get("eta", 0) / 1000
                if now - due <= self.lease_seconds:
                    _add(held, body)
        self._fetched_at = fetched_at
        return Queued(steps=held, deliveries=held[DELIVER_WEBHOOK], runs=held[RUN_SCHEDULE])


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _add(held: dict[str, set[str]], body: bytes) -> None:
    message = Message.decode(body)
    step = HELD_AS.get(message.actor_name)
    if step is not None and message.args:
        held[step].add(str(message.args[0]))
