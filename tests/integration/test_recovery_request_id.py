"""A step the recovery check sends again carries the X-Request-ID of the request that made
the import, as its first message did, so an operator following one request in the logs
(DESIGN.md §8) also sees the steps a dead worker or a lost message made run again."""

from __future__ import annotations

import os
from datetime import timedelta

from config import get_settings, logs
from store import jobs
from store.documents import utcnow
from tests.helpers import RecordingDispatcher, held_import
from workers.backlog import RedisBacklog

HEADER = ["firstName", "email"]
ROWS = [[f"C{n}", f"c{n}@example.com"] for n in range(4)]


class RequestRecorder(RecordingDispatcher):
    """Records, with each step asked for, the request id bound while it is sent (what
    workers.step_context puts in the message's options)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str | None]] = []

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        self.sent.append(("batch", batch_id, logs.current("requestId")))

    def finalize(self, job_id: str) -> None:
        self.sent.append(("finalize", job_id, logs.current("requestId")))


async def drive() -> RequestRecorder:
    recorder = RequestRecorder()
    await jobs.drive_unfinished(recorder, RedisBacklog(os.environ["REDIS_URL"], lease_seconds=15))
    return recorder


async def test_steps_driven_again_carry_the_request_that_made_the_import(database) -> None:
    with logs.bound(requestId="req-held-1"):
        job_id, batches = await held_import(HEADER, ROWS, batch_size=2)
    assert logs.current("requestId") is None
    stored = await database["import_jobs"].find_one({}, {"request_id": 1})
    assert stored["request_id"] == "req-held-1"

    # Their messages were never sent: lost.
    lost = await drive()
    assert sorted(lost.sent) == sorted(("batch", b, "req-held-1") for b in batches)

    # A worker took the first batch and died: its lease ran out.
    await database["import_batches"].update_one(
        {"_id": batches[0]}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}}
    )
    expired = await drive()
    assert ("batch", batches[0], "req-held-1") in expired.sent

    # Every batch done, the completion's message lost.
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    completion = await drive()
    assert completion.sent == [("finalize", job_id, "req-held-1")]
    assert logs.current("requestId") is None


async def test_an_import_made_outside_a_request_is_driven_again_without_one(database) -> None:
    _, batches = await held_import(HEADER, ROWS, batch_size=4)
    assert (await drive()).sent == [("batch", batches[0], None)]
