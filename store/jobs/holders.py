"""Rows that reach one existing customer through different identifier values (one by its
email, another by its phone) must apply in file order, as every row that shares a value
does: planning puts them in one batch. The claims of the file's values tell which customer
holds each, and each held value becomes a link of the RowGrouper to its customer.

The claims are read whichever way costs less: by `_id` lookups of the file's values while
its rows are read, or one scan of every claim after (a small customer base, a big file)."""

from __future__ import annotations

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


class HolderLinks:
    def __init__(self, grouper: RowGrouper, scan: bool, lookup: bool, chunk_size: int) -> None:
        self.grouper, self.scan, self.lookup, self.chunk_size = grouper, scan, lookup, chunk_size
        self.pending: set[IdentifierValue] = set()
        # Every claim read, by `_id`, while they fit (None after).
        self.kept: dict[str, claims.Claim] | None = {}

    @classmethod
    async def for_import(
        cls, grouper: RowGrouper, expected_values: int, chunk_size: int
    ) -> HolderLinks:
        held = await claims.collection().estimated_document_count()
        scan = held / SCANNED_PER_SECOND < expected_values / LOOKUPS_PER_SECOND
        return cls(
            grouper, scan=held > 0 and scan, lookup=held > 0 and not scan, chunk_size=chunk_size
        )

    async def add(self, identifiers: Iterable[IdentifierValue]) -> None:
        """A row's values (before the next row is added to the grouper)."""
        if self.lookup:
            self.pending.update(identifiers)
            if len(self.pending) >= LOOKUP_VALUES:
                await self._look_up()

    async def finish(self, yielder: Yielder) -> None:
        """The links of the values not looked up yet, or of every claim."""
        if self.lookup:
            await self._look_up()
        if not self.scan:
            return
        async for doc in claims.collection().find({}):
            self._link(claims.ident_of(doc["_id"]), claims.Claim.of(doc))
            await yielder.tick()

    async def _look_up(self) -> None:
        found = await claims.read(self.pending, self.chunk_size)
        self.pending = set()
        for ident, claim in found.items():
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
        found = []
        for ident in idents:
            _id = claims.claim_id(ident)
            claim = self.kept.get(_id)
            if claim is not None:
                held = {"c": claim.holder, "n": claim.next_holder, "w": claim.writer}
                found.append({"_id": _id, **held})
        return pack(found)
