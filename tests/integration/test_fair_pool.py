"""store.fair_pool.FairPool on a real server: with one connection and coroutines that each
issue commands back to back, the connection goes round in the order they asked, where
PyMongo's own pool lets the coroutine that just checked it in take it again (a batch waited
past its time limit that way)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pymongo import AsyncMongoClient

from store.fair_pool import FairPool

COROUTINES = 3
COMMANDS_EACH = 30


async def completion_order(pool_class: type | None) -> list[int]:
    options: dict[str, Any] = {"_pool_class": pool_class} if pool_class else {}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        os.environ["MONGODB_URL"], maxPoolSize=1, **options
    )
    collection = client["bcu_test_pool"]["commands"]
    await collection.find_one({})  # the connection exists before they start
    order: list[int] = []

    async def issue(which: int) -> None:
        for n in range(COMMANDS_EACH):
            await collection.insert_one({"which": which, "n": n})
            order.append(which)

    try:
        await asyncio.gather(*(issue(w) for w in range(COROUTINES)))
        await client.drop_database("bcu_test_pool")
    finally:
        await client.close()
    return order


def widest_lead(order: list[int]) -> int:
    """The most commands one coroutine had completed ahead of another at any moment."""
    done = [0] * COROUTINES
    lead = 0
    for which in order:
        done[which] += 1
        lead = max(lead, max(done) - min(done))
    return lead


async def test_the_connection_goes_round_in_turn() -> None:
    order = await completion_order(FairPool)
    assert len(order) == COROUTINES * COMMANDS_EACH
    assert widest_lead(order) <= 1
    assert order[: 2 * COROUTINES] == list(range(COROUTINES)) * 2


async def test_pymongos_own_pool_lets_one_coroutine_keep_it() -> None:
    """The behaviour FairPool exists for, so that a driver that fixes it is noticed."""
    order = await completion_order(None)
    assert widest_lead(order) > COMMANDS_EACH // 2
