"""What a writer asks store.customers.commit to write: its rows, how to resolve them, and
who it is (a batch of an import, or a bulk request)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.actions import Action
from domain.resolution import IdentifierValue, ProfileBounds, RowInput
from domain.schema import RecordSchema
from store.customers.claims import Claim


@dataclass(frozen=True)
class Commit:
    rows: Sequence[RowInput]
    action: Action
    deduplication_keys: Sequence[str]
    schema: RecordSchema
    writer: str
    new_id: Callable[[int], str]
    lookup_chunk_size: int
    lease_seconds: float
    dry_run: bool = False
    resumed: bool = False  # an earlier run of this writer may have written
    # The import this writer is a batch of: the customers it changes keep their pre-images
    # (store.customers.preimages), so that the import can be reverted. None: a bulk request.
    import_id: str | None = None
    # Start by inserting the claims, as if no one held the values (cheapest when most rows
    # are new); else read them first (cheapest when many are held: nothing to undo).
    assume_new: bool = True
    bounds: ProfileBounds = field(default_factory=ProfileBounds)  # what a customer may hold
    # The claims of the rows' values as planning read them (a value without one had none):
    # the first round that reads resolves with these instead. A claim changed since makes
    # the claim write conditional on it fail, and the writer reads afresh. None: read them.
    planned_claims: Mapping[IdentifierValue, Claim] | None = None
    # When planning began reading them, by the server's clock: an `ignore` writer takes a
    # planned claim whose writer had finished by then for what it says, without reading its
    # customer (store.customers.reading). None: it reads them.
    claims_read_at: datetime | None = None
