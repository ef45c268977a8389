"""The read phase of a commit (store.customers.commit): the claims of the rows' identifier
values (store.customers.claims), waiting while a live writer holds them
(store.customers.writers), and the customers those claims name, each as it stood before this
import (store.customers.preimages) when the writer runs again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.resolution import CustomerState, IdentifierValue, identifier_values
from store.customers import claims, preimages, writers
from store.customers.ids import customer_oid
from store.customers.request import Commit
from store.documents import Customer
from store.retry import Contended


@dataclass
class Snapshot:
    """What a writer read: the resolution works on it, the write phase keeps to it."""

    claims: dict[IdentifierValue, claims.Claim]
    existing: list[CustomerState]
    stored: dict[str, dict[str, Any]]  # the customers read, whole documents, by id
    own: dict[str, dict[str, Any]]  # this writer's customers found written already
    holders: dict[IdentifierValue, str]


async def read(
    request: Commit,
    wanted: set[IdentifierValue],
    own_ids: set[str],
    identifier_keys: Sequence[str],
    taken: dict[IdentifierValue, claims.Claim],
    planned: Mapping[IdentifierValue, claims.Claim] | None = None,
) -> Snapshot:
    """The claims of `wanted` (but those this writer has just `taken`, known already; and
    `planned`, when given: what planning read of them) and the customers they name."""
    unknown = wanted - set(taken)
    if planned is None:
        found = await claims.read(unknown, request.lookup_chunk_size)
    else:
        found = {ident: planned[ident] for ident in unknown if ident in planned}
    if not request.dry_run:
        await _wait_for_live_writers(request.writer, found.values())
    # This writer's own customers exist only if an earlier run of it wrote them: within one
    # run, a round that fails does so before its inserts.
    candidates: set[str] = set(own_ids) if request.resumed else set()
    for claim in found.values():
        candidates |= claim.candidates
    # The claims this run took just now name the customers it is about to insert: none is
    # written yet (a batch of new rows with a few values held: a thousand reads of nothing).
    for claim in taken.values():
        candidates |= claim.candidates - own_ids
    found |= taken
    docs = await _customers(candidates, request.lookup_chunk_size)
    own = {cid: doc for cid, doc in docs.items() if cid in own_ids}
    starts = await _states_before_this_import(request, docs, own_ids)
    # Off the event loop (a thousand customers): the other writers' commands go out meanwhile.
    existing, holders = await asyncio.to_thread(
        _states_and_holders, docs, starts, own_ids, identifier_keys
    )
    return Snapshot(found, existing, docs, own, holders)


def _states_and_holders(
    docs: Mapping[str, dict[str, Any]],
    starts: Mapping[str, dict[str, Any]],
    own_ids: set[str],
    identifier_keys: Sequence[str],
) -> tuple[list[CustomerState], dict[IdentifierValue, str]]:
    """The customers read (but this writer's own), each as it stood before this import, and
    who holds each of their identifier values."""
    existing = [
        CustomerState(cid, starts.get(cid, doc).get("attributes") or {}, rev=doc.get("rev", 0))
        for cid, doc in sorted(docs.items())
        if cid not in own_ids
    ]
    holders: dict[IdentifierValue, str] = {}
    for cid, doc in docs.items():
        for ident in identifier_values(doc.get("attributes") or {}, identifier_keys):
            other = holders.setdefault(ident, cid)
            if other != cid:  # a writer died between its two writes: its next run repairs it
                raise Contended(f"{claims.claim_id(ident)} is held by two customers for now")
    return existing, holders


async def _states_before_this_import(
    request: Commit, docs: dict[str, dict[str, Any]], own_ids: set[str]
) -> dict[str, dict[str, Any]]:
    """A run of a batch that an earlier run already wrote starts each customer from its
    pre-image, not from that run's write: its rows then resolve as they did the first time,
    with the same outcomes and the same changes (else each update would say it changed
    nothing), and end in the same state."""
    if not request.resumed or request.import_id is None:
        return {}
    rewritten = [
        cid
        for cid, doc in docs.items()
        if cid not in own_ids and doc.get("written_by") == request.import_id
    ]
    return await preimages.states_before(request.import_id, rewritten) if rewritten else {}


async def _wait_for_live_writers(writer: str, found: Iterable[claims.Claim]) -> None:
    others = {c.writer for c in found if c.writer is not None and c.writer != writer}
    live = await writers.live(others)
    if not live:
        return
    if writer > min(live):  # the younger gives way, so two writers never wait on each other
        await writers.release(writer)
    raise Contended(f"claims held by {', '.join(sorted(live)[:3])}")


async def _customers(ids: Iterable[str], chunk_size: int) -> dict[str, dict[str, Any]]:
    oids = sorted(customer_oid(i) for i in set(ids))
    found: dict[str, dict[str, Any]] = {}
    collection = Customer.get_pymongo_collection()
    for start in range(0, len(oids), chunk_size):
        query = {"_id": {"$in": oids[start : start + chunk_size]}}
        # Whole documents: a customer this writer changes keeps its pre-image exactly.
        async for doc in collection.find(query):
            found[str(doc["_id"])] = doc
    return found
