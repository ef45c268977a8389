"""The read phase of a commit (store.customers.commit): the claims of the rows' identifier
values (store.customers.claims), waiting while a live writer holds them
(store.customers.writers), and the customers those claims name, each as it stood before this
import (store.customers.preimages) when the writer runs again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from domain.actions import Action
from domain.resolution import CustomerState, IdentifierValue, identifier_values
from store import schemas
from store.customers import claims, preimages, writers
from store.customers.ids import customer_oid
from store.customers.request import Commit
from store.documents import Customer, ImportJob
from store.retry import Contended

# The `rev` of a customer known only by trusted claims: an `ignore` resolution never writes
# a customer it matches, so this is never a condition of a write.
HELD_UNREAD_REV = -1


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
    trusted: dict[IdentifierValue, claims.Claim] = {}
    if planned is None:
        found = await claims.read(unknown, request.lookup_chunk_size)
    else:
        found = {ident: planned[ident] for ident in unknown if ident in planned}
        trusted = await _trusted(request, found)
    untrusted = [claim for ident, claim in found.items() if ident not in trusted]
    if not request.dry_run:
        await _wait_for_live_writers(request.writer, untrusted)
    # This writer's own customers exist only if an earlier run of it wrote them: within one
    # run, a round that fails does so before its inserts.
    candidates: set[str] = set(own_ids) if request.resumed else set()
    for claim in untrusted:
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
    for cid, values in _held_unread(trusted, docs, holders).items():
        existing.append(CustomerState(cid, values, rev=HELD_UNREAD_REV))
        holders.update((ident, cid) for ident in identifier_values(values, identifier_keys))
    return Snapshot(found, existing, docs, own, holders)


async def _trusted(
    request: Commit, planned: Mapping[IdentifierValue, claims.Claim]
) -> dict[IdentifierValue, claims.Claim]:
    """The planned claims an `ignore` writer takes for what they say: each names the one
    customer holding its value, and its writer (or none: claims made from the customers,
    claims.backfill and schema changes) had finished before planning read it. Such a claim
    said the truth when read (a finished writer has written the customers its claims name,
    and settled the claims that moved), so resolving against it is resolving against the
    customers as they were then; `ignore` writes no customer it matches, so it needs
    nothing newer. A value a row would take is still claimed by a conditional write, as
    any other (an insert refused if someone took it meanwhile).

    None when the schema's channel identifiers are no longer the import's: a schema change
    unsets (or converts) the values of an identifier it removes (or reshapes) before it
    releases their claims. Nor the claims of an import that is being, or was, reverted: a
    revert changes or deletes the import's customers first and releases the values they
    lose after (and if it dies in between, those claims stay as they were, naming customers
    that lost the value)."""
    if request.action is not Action.IGNORE or request.claims_read_at is None:
        return {}
    settled = {
        ident: claim
        for ident, claim in planned.items()
        if claim.holder is not None and claim.next_holder is None
    }
    if not settled:  # nothing to trust: no read of the schema or the writers
        return {}
    current = await schemas.get_schema(request.schema.record_type)
    if current.channel_identifiers != request.schema.channel_identifiers:
        return {}
    named = {claim.writer for claim in settled.values() if claim.writer is not None}
    finished = await writers.finished_before(named, request.claims_read_at)
    finished -= await _batches_of_reverted_imports(finished)
    return {
        ident: claim
        for ident, claim in settled.items()
        if claim.writer is None or claim.writer in finished
    }


async def _batches_of_reverted_imports(writer_ids: set[str]) -> set[str]:
    """The writers among `writer_ids` that are batches ("<job id>-<seq>") of an import that
    has a revert (reserved before the revert writes anything)."""
    import_of = {w: w.rpartition("-")[0] for w in writer_ids}
    oids = [ObjectId(i) for i in set(import_of.values()) if ObjectId.is_valid(i)]
    if not oids:
        return set()
    query = {"_id": {"$in": oids}}
    reverted = {
        str(doc["_id"])
        async for doc in ImportJob.get_pymongo_collection().find(query, {"revert_id": 1})
        if doc.get("revert_id") is not None
    }
    return {w for w, import_id in import_of.items() if import_id in reverted}


def _held_unread(
    trusted: Mapping[IdentifierValue, claims.Claim],
    docs: Mapping[str, dict[str, Any]],
    holders: Mapping[IdentifierValue, str],
) -> dict[str, dict[str, Any]]:
    """The customers known only by trusted claims (not read): each as the values the claims
    say it holds, the only part of it an `ignore` resolution looks at. A customer read all
    the same (another value's claim named it) is as read, and so is a value it holds."""
    held: dict[str, dict[str, Any]] = {}
    for (key, value), claim in sorted(trusted.items(), key=lambda item: str(item[0])):
        if claim.holder is not None and claim.holder not in docs and (key, value) not in holders:
            held.setdefault(claim.holder, {}).setdefault(key, []).append(value)
    return held


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
