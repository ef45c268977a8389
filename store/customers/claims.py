"""Identifier claims: the proxy collection that keeps channel-identifier values unique.

One document per normalised (attribute, value): `_id` is "<key>:<value>", `c` the customer
that holds the value, `w` the writer (store.customers.writers) that last changed the claim
and, while that writer moves the value from `c` to another customer, `n` that customer.
Inserting a claim is how a writer takes a value no one holds: the `_id` index refuses a
second one. On a sharded cluster the collection is sharded on `_id`, and MongoDB keeps `_id`
unique across shards: this is its documented way to enforce uniqueness of a field that is
not the shard key (DESIGN.md §4), so the customers collection needs no unique index of its
own.

The rule every writer keeps: a customer holding a value has that value's claim pointing at it
(`c`, or `n` while its writer is live). A claim whose writer is no longer live is read for
what the customers say: whichever of `c` and `n` holds the value owns it, and if neither does
the value is free (the writer died between claiming and writing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from domain.resolution import IdentifierValue
from store.documents import Customer

COLLECTION = "identifier_claims"


def claim_id(ident: IdentifierValue) -> str:
    key, value = ident
    return f"{key}:{value}"


def ident_of(claim: str) -> IdentifierValue:
    """The value a claim's `_id` names (the inverse of claim_id)."""
    key, _, value = claim.partition(":")
    return key, value


def collection() -> AsyncCollection[dict[str, Any]]:
    # The database Beanie is bound to (also while store.db initialises it).
    return Customer.get_pymongo_collection().database[COLLECTION]


@dataclass(frozen=True)
class Claim:
    holder: str | None  # `c`
    next_holder: str | None  # `n`: where a live writer is moving the value
    writer: str | None  # `w`

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Claim:
        """The claim a stored claim document (or planning's copy of one) says."""
        return cls(doc.get("c"), doc.get("n"), doc.get("w"))

    @property
    def candidates(self) -> set[str]:
        return {c for c in (self.holder, self.next_holder) if c is not None}


async def read(idents: Iterable[IdentifierValue], chunk_size: int) -> dict[IdentifierValue, Claim]:
    """The claims of `idents`, by `_id` lookups of at most `chunk_size` values each."""
    by_id = {claim_id(ident): ident for ident in set(idents)}
    ids = sorted(by_id)
    found: dict[IdentifierValue, Claim] = {}
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        async for doc in collection().find({"_id": {"$in": chunk}}):
            found[by_id[doc["_id"]]] = Claim.of(doc)
    return found


@dataclass(frozen=True)
class ClaimWrites:
    """What a writer does to the claims around its customer writes: `before` takes the
    values (all must apply, or another writer got in first), `after` settles the values
    that moved from one customer to another or to none."""

    inserts: list[dict[str, Any]]  # claims of values no one claimed when read
    updates: list[UpdateOne]  # claims changed conditionally on what was read
    after: list[UpdateOne | DeleteOne]

    @property
    def before(self) -> list[InsertOne[dict[str, Any]] | UpdateOne]:
        """Inserts first, then updates: a write's index tells which claim it was."""
        return [*(InsertOne(doc) for doc in self.inserts), *self.updates]


def plan_writes(
    writer: str,
    idents: Iterable[IdentifierValue],
    claims: Mapping[IdentifierValue, Claim],
    holders_before: Mapping[IdentifierValue, str],
    holders_after: Mapping[IdentifierValue, str],
    *,
    probe: bool = False,
) -> ClaimWrites:
    """The claim writes for `idents` whose holder changes from `holders_before` (as read) to
    `holders_after` (as the writer will leave them); also the writer's own claims that it
    no longer needs, and missing claims of values that are held. With `probe` (nothing was
    read: the writer assumed no one holds its values), values no one will hold are claimed
    too and released afterwards: that is how the writer learns no one held them."""
    inserts: list[dict[str, Any]] = []
    updates: list[UpdateOne] = []
    after: list[UpdateOne | DeleteOne] = []
    for ident in sorted(set(idents), key=claim_id):
        old, new = holders_before.get(ident), holders_after.get(ident)
        claim = claims.get(ident)
        _id = claim_id(ident)
        if new is None and old is None:
            if probe and claim is None:
                inserts.append({"_id": _id, "c": None, "w": writer})
            if probe or (claim is not None and claim.writer == writer):
                after.append(DeleteOne({"_id": _id, "w": writer}))  # taken, then not needed
            continue
        if (
            claim is not None
            and claim.holder == new
            and claim.next_holder is None
            and (old == new or (old is None and claim.writer == writer))
        ):
            continue  # the claim says so already (or this writer took it for `new`)
        if old is None or old == new:
            # Nobody holds it yet: the claim names its next holder at once (should the
            # writer die before writing that customer, readers find it without the value).
            # Or it stays where it is, and the claim is mended to say so.
            target: dict[str, Any] = {"c": new, "w": writer}
        else:
            target = {"c": old, "n": new, "w": writer}
            if new is None:
                after.append(DeleteOne({"_id": _id, "w": writer}))
            else:
                settle = {"$set": {"c": new}, "$unset": {"n": ""}}
                after.append(UpdateOne({"_id": _id, "w": writer}, settle))
        if claim is None:
            inserts.append({"_id": _id, **target})
            continue
        update: dict[str, Any] = {"$set": target}
        if "n" not in target:
            update["$unset"] = {"n": ""}
        updates.append(UpdateOne({"_id": _id, "w": claim.writer, "c": claim.holder}, update))
    return ClaimWrites(inserts, updates, after)


async def backfill(customers: AsyncCollection[dict[str, Any]], identifier_keys: list[str]) -> int:
    """Claims for customers stored before claims existed (or by hand). Idempotent."""
    written = 0
    pending: list[InsertOne[dict[str, Any]]] = []

    async def flush() -> None:
        nonlocal written
        if not pending:
            return
        try:
            result = await collection().bulk_write(pending, ordered=False)
            written += result.inserted_count
        except BulkWriteError as error:
            written += error.details.get("nInserted", 0)
        pending.clear()

    async for doc in customers.find({}, {"attributes": 1}):
        attributes = doc.get("attributes") or {}
        for key in identifier_keys:
            values = attributes.get(key)
            for value in values if isinstance(values, list) else [values]:
                if value not in (None, ""):
                    pending.append(
                        InsertOne({"_id": claim_id((key, value)), "c": str(doc["_id"]), "w": None})
                    )
        if len(pending) >= 1000:
            await flush()
    await flush()
    return written
