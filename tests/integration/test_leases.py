"""Leases on the real database: renewed while the work runs, released after it, and a
finished delivery never waits on its renewal, even when a driver call loses the cancel
that stops it (Python 3.11's asyncio.wait_for can)."""

from __future__ import annotations

import asyncio
from typing import Any

from store.documents import utcnow
from store.jobs import leases

SECONDS = 0.6  # renewed every 0.2 s


async def leased(database: Any) -> leases.Lease:
    collection = database["lease_probe"]
    await collection.insert_one({"_id": "step", "until": None, "attempts": 0})
    lease = await leases.take(collection, {"_id": "step"}, "until", SECONDS, count_in="attempts")
    assert lease is not None
    return lease


async def test_a_lease_is_renewed_while_the_work_runs_and_released_after(database) -> None:
    lease = await leased(database)
    taken_until = lease.until
    async with lease:
        await asyncio.sleep(SECONDS * 1.5)
        held = await database["lease_probe"].find_one({"_id": "step"})
        assert held["until"] > taken_until  # renewed
        assert held["until"] > utcnow()
    assert (await database["lease_probe"].find_one({"_id": "step"}))["until"] is None
    assert await leases.take(database["lease_probe"], {"_id": "step"}, "until", 1, "attempts")


class CancelLosingLease(leases.Lease):
    """A renewal whose driver call loses the first cancel that arrives during it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.renewing = asyncio.Event()
        self.lost = 0

    async def renew(self) -> bool:
        self.renewing.set()
        try:
            await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            if self.lost:
                raise
            self.lost += 1  # lost, as asyncio.wait_for can lose it
        return await super().renew()


async def test_a_renewal_that_loses_its_cancel_still_ends_with_the_work(database) -> None:
    taken = await leased(database)
    lease = CancelLosingLease(taken.collection, taken.document, taken.field, SECONDS)
    await lease.__aenter__()
    await lease.renewing.wait()  # the work ends while a renewal is under way
    # Waited for without cancelling (a cancel would only be lost again).
    ending = asyncio.create_task(lease.__aexit__(None, None, None))
    await asyncio.wait({ending}, timeout=10)
    assert ending.done(), "the delivery waits on its lease's renewal"
    assert lease._renewing is not None
    await asyncio.wait({lease._renewing}, timeout=10)
    assert lease._renewing.done(), "the renewal goes on after the work ended"
    assert lease.lost == 1
    assert (await database["lease_probe"].find_one({"_id": "step"}))["until"] is None
