"""A connection pool that hands its connections out in the order they were asked for.

PyMongo's async pool waits for a free connection on a condition: a checked-in connection
wakes the first waiter, but that waiter must take the lock again before it can claim the
connection, and a coroutine that asks in the meantime (typically the one that just checked
in and issues its next command at once) claims it first; the waiter goes back to the end of
the line. With one connection per worker process (WORKER_DATABASE_COMMANDS=1) and four
batches issuing commands back to back, one batch waited past its 120 s time limit in a
million-row import (`python -m bench.pool_fairness` shows the spread). Here a FIFO semaphore
(asyncio's hands a released permit to the first waiter) sits in front of the pool's own
limit, so no coroutine gets a connection before one that asked earlier."""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

from pymongo.asynchronous.pool import AsyncConnection, Pool, _PoolCheckout
from pymongo.pool_options import PoolOptions
from pymongo.typings import _Address


class _InTurnCheckout(_PoolCheckout):
    __slots__ = ("_turns",)

    def __init__(self, pool: Pool, turns: asyncio.Semaphore, handler: object = None) -> None:
        super().__init__(pool, handler)  # type: ignore[arg-type]
        self._turns = turns

    async def __aenter__(self) -> AsyncConnection:
        await self._turns.acquire()
        try:
            return await super().__aenter__()
        except BaseException:
            self._turns.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc_val, exc_tb)
        finally:
            self._turns.release()


class FairPool(Pool):
    """Passed to the client as `_pool_class` (store.db.new_client)."""

    def __init__(
        self,
        address: _Address,
        options: PoolOptions,
        is_sdam: bool = False,
        client_id: object = None,
    ) -> None:
        super().__init__(address, options, is_sdam, client_id)  # type: ignore[arg-type]
        size = options.max_pool_size
        # maxPoolSize=0 or None is "no limit": nothing to wait for, nothing to order.
        self._turns = asyncio.Semaphore(int(size)) if size and math.isfinite(size) else None

    def checkout(self, handler: object = None) -> _PoolCheckout:
        if self._turns is None:
            return super().checkout(handler)  # type: ignore[arg-type]
        return _InTurnCheckout(self, self._turns, handler)
