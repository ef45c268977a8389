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
from collections.abc import Iterable

from domain.batching import RowGrouper
from domain.resolution import IdentifierValue
from store.customers import claims
from store.documents import pack
from store.jobs.leases import Yielder

# Measured on the embedded SecantusDB (2026-12-01): `_id` lookups in chunks of 50 answer
# about 9,000 values/s, a scan of the claims about 37,000 claims/s.
LOOKUPS_PER_SECOND = 9_000
SCANNED_PER_SECOND = 37_000
LOOKUP_VALUES = 2_000  # values gathered before they are looked up
HOLDER = "#holder"  # not an attribute key: the link value of a customer
# Claims kept for the batches (store.documents.ImportBatch.packed_claims), about 250 bytes
# each in memory; beyond, planning keeps none and the batches read theirs.
KEPT_CLAIMS = 300_000
_NO_CLAIMS = pack([])


class HolderLinks:
    def __init__(self, grouper: RowGrouper, scan: bool, lookup: bool, chunk_size: int) -> None:
        self.grouper, self.scan, self.lookup, self.chunk_size = grouper, scan, lookup, chunk_size
        self.pending: set[IdentifierValue] = set()
        # Every claim read, by `_id`, while they fit (None after).
        self.kept: dict[str, claims.Claim] | None = {}
        self._reading: asyncio.Task[None] | None = None  # at most one read at a time

    @classmethod
    async def for_import(
        cls, grouper: RowGrouper, expected_values: int, chunk_size: int
    ) -> HolderLinks:
        """Starts the scan at once, if that is the way (see `close`)."""
        held = await claims.collection().estimated_document_count()
        scan = held / SCANNED_PER_SECOND < expected_values / LOOKUPS_PER_SECOND
        links = cls(
            grouper, scan=held > 0 and scan, lookup=held > 0 and not scan, chunk_size=chunk_size
        )
        if links.scan:
            links._reading = asyncio.create_task(links._scan_all())
        return links

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
            self._link(claims.ident_of(doc["_id"]), claims.Claim.of(doc))
            await yielder.tick()

    async def _look_up(self, values: set[IdentifierValue]) -> None:
        for ident, claim in (await claims.read(values, self.chunk_size)).items():
            self._link(ident, claim)

    def _link(self, ident: IdentifierValue, claim: claims.Claim) -> None:
        for holder in claim.candidates:
            self.grouper.link([ident, (HOLDER, holder)])
        if self.kept is not None:
            self.kept[claims.claim_id(ident)] = claim
            if len(self.kept) > KEPT_CLAIMS:
                self.kept = None

    def claims_of(self, idents: Iterable[IdentifierValue]) -> bytes | None:
        """The claims read of these values, packed for a batch; None if not all were kept."""
        if self.kept is None:
            return None
        if not self.kept:  # no value of the file is held (an all-new file): nothing to look up
            return _NO_CLAIMS
        found = []
        for ident in idents:
            _id = claims.claim_id(ident)
            claim = self.kept.get(_id)
            if claim is not None:
                held = {"c": claim.holder, "n": claim.next_holder, "w": claim.writer}
                found.append({"_id": _id, **held})
        return pack(found)
