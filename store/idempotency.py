"""Idempotent requests (DESIGN.md §7, after the IETF draft "The Idempotency-Key HTTP Header
Field"): the first request with a key, per API key, is answered and its answer remembered
for IDEMPOTENCY_HOURS; the same request again gets that answer, another request 422, and
the same request while the first is still being answered 409.

One document per (API key, Idempotency-Key), whose `_id` is unique: of two requests at once,
one inserts it and is answered, the other finds it. While a request is answered its
document holds a lease (store.jobs.leases): if the API process dies midway, the lease runs
out and the next request with the key takes over, with the same `resource_id` (the id the
first one gave its import), so it finds what the first one created instead of creating it
again. Only successful answers are remembered: a refused request wrote nothing, and the
key is free again."""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from config import Settings
from domain.errors import Unprocessable
from store import db, files
from store.documents import utcnow
from store.errors import StillInFlight
from store.jobs import leases

IN_FLIGHT, DONE = "in_flight", "done"
RETRY_AFTER_SECONDS = 2
INLINE_BODY_BYTES = 8 * 1024 * 1024  # compressed answers past this go to GridFS


def _records() -> AsyncCollection[dict[str, Any]]:
    return db.database()["idempotency_keys"]


def _bodies() -> files.Bucket:
    return files.Bucket("idempotent_answers")


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    """The right to answer the request: `resource_id` names what it creates."""

    record_id: str
    resource_id: str
    lease: leases.Lease


def _record_id(owner: str, key: str) -> str:
    return hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()


async def _replay(record: dict[str, Any]) -> Replay:
    if record.get("body_file") is not None:
        buffer = io.BytesIO()
        await files.download_to(_bodies(), record["body_file"], buffer)
        packed = buffer.getvalue()
    else:
        packed = record["body"]
    return Replay(int(record["status"]), zlib.decompress(packed))


async def begin(owner: str, key: str, fingerprint: str, settings: Settings) -> Replay | Claim:
    """The remembered answer, or the claim to answer now. Unprocessable when the key was
    used for another request; StillInFlight while that request is being answered."""
    records, record_id = _records(), _record_id(owner, key)
    while True:
        now = utcnow()
        resource_id = str(ObjectId())
        record: dict[str, Any] = {
            "_id": record_id,
            "owner": owner,
            "fingerprint": fingerprint,
            "state": IN_FLIGHT,
            "lease_until": leases.expiry(settings.lease_seconds),
            "resource_id": resource_id,
            "created_at": now,
            "expires_at": now + timedelta(hours=settings.idempotency_hours),
        }
        try:
            await records.insert_one(record)
            return Claim(record_id, resource_id, _lease(record, settings))
        except DuplicateKeyError:
            pass
        found = await records.find_one({"_id": record_id})
        if found is None:
            continue  # released meanwhile
        if found["expires_at"] <= now:
            await _forget(found)
            continue
        if found["fingerprint"] != fingerprint:
            raise Unprocessable(
                "This Idempotency-Key was already used for another request (another path or "
                "body); use a new key for a new request"
            )
        if found["state"] == DONE:
            return await _replay(found)
        if found["lease_until"] is not None and found["lease_until"] > now:
            raise StillInFlight(
                "A request with this Idempotency-Key is still being answered; send it again "
                f"in {RETRY_AFTER_SECONDS} seconds to get its answer",
                RETRY_AFTER_SECONDS,
            )
        taken = await records.find_one_and_update(  # its API process died: take it over
            {"_id": record_id, "state": IN_FLIGHT, "lease_until": found["lease_until"]},
            {"$set": {"lease_until": leases.expiry(settings.lease_seconds)}},
            return_document=ReturnDocument.AFTER,
        )
        if taken is not None:
            return Claim(record_id, taken["resource_id"], _lease(taken, settings))


def _lease(record: dict[str, Any], settings: Settings) -> leases.Lease:
    return leases.Lease(_records(), record, "lease_until", settings.lease_seconds)


async def finish(claim: Claim, status: int, body: bytes) -> None:
    """Remember the answer."""
    packed = zlib.compress(body, 6)
    stored: dict[str, Any] = {"state": DONE, "status": status, "lease_until": None}
    if len(packed) > INLINE_BODY_BYTES:
        stored["body_file"] = await files.save_stream(
            _bodies(), claim.record_id, io.BytesIO(packed)
        )
    else:
        stored["body"] = packed
    await _records().update_one({"_id": claim.record_id, "state": IN_FLIGHT}, {"$set": stored})


async def release(claim: Claim) -> None:
    """Forget a request that was refused or failed: the key may be used again."""
    await _records().delete_one({"_id": claim.record_id, "state": IN_FLIGHT})


async def _forget(record: dict[str, Any]) -> None:
    deleted = await _records().delete_one(
        {"_id": record["_id"], "expires_at": record["expires_at"]}
    )
    if deleted.deleted_count and record.get("body_file") is not None:
        await files.delete(_bodies(), record["body_file"])


async def delete_expired(limit: int = 1000) -> int:
    """Retention: forget keys older than IDEMPOTENCY_HOURS; how many."""
    expired = await _records().find({"expires_at": {"$lte": utcnow()}}, limit=limit).to_list()
    for record in expired:
        await _forget(record)
    return len(expired)
