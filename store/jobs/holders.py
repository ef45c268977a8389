"""Rows that reach one existing customer through different identifier values (one by its
email, another by its phone) must apply in file order, as every row that shares a value
does: planning puts them in one batch. The claims of the file's values tell which customer
holds each, and each held value becomes a link of the RowGrouper to its customer.

The claims are read whichever way costs less: by `_id` lookups of the file's values, or one
scan of every claim (a small customer base, a big file). Either runs beside the reading of
the file, in a task of its own: the server looks the values up while this process checks the
rows (both take seconds for 100,000 rows), instead of one waiting for the other."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime

from domain.batching import RowGrouper
from domain.resolution import IdentifierValue
from store.customers import claims, writers
from store.documents import pack
from store.jobs.leases import Yielder

# Measured on the embedded SecantusDB (2026-12-01): `_id` lookups in chunks of 50 answer
# about 9,000 values/s, a scan of the claims about 37,000 claims/s.
LOOKUPS_PER_SECOND = 9_000
SCANNED_PER_SECOND = 37_000
LOOKUP_VALUES = 2_000  # values gathered before they are looked up
# Counting the claims, to choose, costs a read of every one on the embedded server, however
# small the file (1.5 s for 300,000 claims, 5.1 s for a million; `find_one` and `collStats`
# as much, measured 2026-12-06). A file whose values the lookups answer within this time is
# looked up without counting: at worst, with hardly any claim, this time is lost, where the
# count's grows with the customer base.
UNCOUNTED_LOOKUP_SECONDS = 0.5
HOLDER = "#holder"  # not an attribute key: the link value of a customer
# Claims kept for the batches (store.documents.ImportBatch.packed_claims), about 250 bytes
# each in memory; beyond, planning keeps none and the batches read theirs.
KEPT_CLAIMS = 300_000
_NO_CLAIMS = pack([])


class HolderLinks:
    def __init__(
        self, grouper: RowGrouper, scan: bool, lookup: bool, chunk_size: int, read_from: datetime
    ) -> None:
        self.grouper, self.scan, self.lookup, self.chunk_size = grouper, scan, lookup, chunk_size
        # The server's time before any claim was read: what the batches are told of when
        # their claims were read (store.customers.reading trusts some of them by it).
        self.read_from = read_from
        self.pending: set[IdentifierValue] = set()
        self.links = 0  # links made, one a claim read: the next one's number
        # Every claim read, by `_id`, while they fit (None after), and the number of each
        # one's link, in the same order.
        self.kept: dict[str, claims.Claim] | None = {}
        self.kept_links = array("i")
        self._batches: list[list[str]] = []  # the `_id`s of the claims of each batch
        self._reading: asyncio.Task[None] | None = None  # at most one read at a time

    @classmethod
    async def for_import(
        cls, grouper: RowGrouper, expected_values: int, chunk_size: int
    ) -> HolderLinks:
        """Decides how the claims are read; `start` begins (see `close`)."""
        read_from = await writers.server_now()
        lookups_seconds = expected_values / LOOKUPS_PER_SECOND
        if lookups_seconds <= UNCOUNTED_LOOKUP_SECONDS:
            return cls(grouper, False, True, chunk_size, read_from)
        held = await claims.collection().estimated_document_count()
        scan = held / SCANNED_PER_SECOND < lookups_seconds
        return cls(grouper, held > 0 and scan, held > 0 and not scan, chunk_size, read_from)

    def start(self) -> None:
        """Start the scan, if that is the way, before the first row is added."""
        if self.scan and self._reading is None:
            self._reading = asyncio.create_task(self._scan_all())

    async def add(self, identifiers: Iterable[IdentifierValue]) -> None:
        """A row's values (before the next row is added to the grouper)."""
        if self.lookup:
            self.pending.update(identifiers)
            if len(self.pending) >= LOOKUP_VALUES:
                await self._read_done()
                values, self.pending = self.pending, set()
                self._reading = asyncio.create_task(self._look_up(values))

    async def finish(self) -> None:
        """The links of every value of the file, once its last row is added."""
        await self._read_done()
        if self.pending:
            await self._look_up(self.pending)
            self.pending = set()

    def close(self) -> None:
        """Stop a read still running (planning ended early: the job was cancelled, or failed)."""
        if self._reading is not None:
            if self._reading.done() and not self._reading.cancelled():
                self._reading.exception()  # retrieved: the error planning ended on is reported
            self._reading.cancel()
            self._reading = None

    async def _read_done(self) -> None:
        if self._reading is not None:
            reading, self._reading = self._reading, None
            await reading

    async def _scan_all(self) -> None:
        yielder = Yielder()  # a page of claims is thousands: let the rows' reading go on
        async for doc in claims.collection().find({}):
            self._link(doc["_id"], claims.ident_of(doc["_id"]), claims.Claim.of(doc))
            await yielder.tick()

    async def _look_up(self, values: set[IdentifierValue]) -> None:
        for ident, claim in (await claims.read(values, self.chunk_size)).items():
            self._link(claims.claim_id(ident), ident, claim)

    def _link(self, _id: str, ident: IdentifierValue, claim: claims.Claim) -> None:
        # The value first: the link's batch is then the batch of the rows that have it.
        self.grouper.link([ident, *((HOLDER, holder) for holder in claim.candidates)])
        number, self.links = self.links, self.links + 1
        if self.kept is not None and _id not in self.kept:
            self.kept[_id] = claim
            self.kept_links.append(number)
            if len(self.kept) > KEPT_CLAIMS:
                self.kept, self.kept_links = None, array("i")

    def sort_into_batches(self, batch_of_link: Sequence[int], batches: int) -> None:
        """Which batch needs each claim kept: the batch of the rows that have its value
        (RowGrouper's Batches.of_link), from the batches the rows were put in. Sorted once,
        so no batch's rows are decoded again for their values."""
        if not self.kept:
            return
        self._batches = [[] for _ in range(batches)]
        for _id, link in zip(self.kept, self.kept_links, strict=True):
            batch = batch_of_link[link]
            if batch >= 0:
                self._batches[batch].append(_id)

    def claims_of(self, batch: int) -> bytes | None:
        """The claims read of a batch's values, packed for it; None if not all were kept."""
        if self.kept is None:
            return None
        if not self.kept:  # no value of the file is held (an all-new file): nothing to look up
            return _NO_CLAIMS
        found = []
        for _id in self._batches[batch]:
            claim = self.kept[_id]
            found.append({"_id": _id, "c": claim.holder, "n": claim.next_holder, "w": claim.writer})
        self._batches[batch] = []
        return pack(found)
