"""What the Redis broker holds for the import queue, for the recovery check
(store.jobs.recovery): messages queued, delayed for a retry, or fetched by a live worker
process and not acknowledged yet."""

from __future__ import annotations

from dramatiq import Message
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

from store.jobs import Queued
from workers.broker import QUEUE

DELAYED = f"{QUEUE}.DQ"  # Dramatiq's delay queue of QUEUE: retries wait there


class RedisBacklog:
    """Reads the broker's own data: `<ns>:<queue>.msgs` maps every message not acknowledged
    yet (queued, or fetched by a worker) to its body, and the delay queue has the same."""

    def __init__(self, redis_url: str, dead_after_seconds: float) -> None:
        # Dramatiq's own maintenance, on every call: what worker processes silent for this
        # long had fetched goes back to the queue (Dramatiq waits a minute by default, and
        # runs it on a random share of its calls). Live workers are heard from every second.
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=redis_url,
            heartbeat_timeout=int(dead_after_seconds * 1000),
            maintenance_chance=MAINTENANCE_SCALE,
        )

    def queued(self) -> Queued:
        plans: set[str] = set()
        batches: set[str] = set()
        finalizes: set[str] = set()
        reverts: set[str] = set()
        by_actor = {
            "plan_import": plans,
            "process_batch": batches,
            "finalize_import": finalizes,
            "revert_import": reverts,
        }
        for queue in (QUEUE, DELAYED):
            self.broker.do_qsize(queue)  # runs the maintenance above, for this queue
            key = f"{self.broker.namespace}:{queue}.msgs"
            for body in self.broker.client.hvals(key):
                message = Message.decode(body if isinstance(body, bytes) else body.encode())
                found = by_actor.get(message.actor_name)
                if found is not None and message.args:
                    found.add(str(message.args[0]))
        return Queued(plans=plans, batches=batches, finalizes=finalizes, reverts=reverts)
