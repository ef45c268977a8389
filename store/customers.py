"""Reading customers and writing a batch's resolution with one unordered bulk_write."""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from domain.actions import Action
from domain.errors import InvalidRequest
from domain.resolution import (
    BatchResolution,
    CustomerState,
    IdentifierValue,
    RowInput,
    identifier_values,
    identifiers_kept,
    resolve_batch,
)
from domain.schema import RecordSchema
from domain.validation import Profile
from store import db
from store.documents import Customer, utcnow
from store.errors import Conflict, NotFound

log = logging.getLogger(__name__)

RESOLVE_RETRIES = 8  # rounds of resolving again after a concurrent writer got in first


class WriteConflict(Exception):
    """Another writer changed a customer between our read and our write: resolve again."""


InTransaction = Callable[[BatchResolution, AsyncClientSession], Awaitable[bool]]


def new_customer_id() -> str:
    return str(ObjectId())


async def find_owners(
    identifiers: Iterable[IdentifierValue],
    chunk_size: int,
    session: AsyncClientSession | None = None,
) -> list[CustomerState]:
    """Every customer holding any of the (attribute, value) pairs; chunked `$in` queries."""
    by_key: dict[str, list[Any]] = defaultdict(list)
    for key, value in set(identifiers):
        by_key[key].append(value)
    collection = Customer.get_pymongo_collection()
    found: dict[str, CustomerState] = {}
    for key, values in by_key.items():
        values.sort(key=str)
        for start in range(0, len(values), chunk_size):
            chunk = values[start : start + chunk_size]
            query = {f"attributes.{key}": {"$in": chunk}}
            async for doc in collection.find(query, {"attributes": 1, "rev": 1}, session=session):
                customer_id = str(doc["_id"])
                if customer_id not in found:
                    found[customer_id] = CustomerState(
                        customer_id, doc.get("attributes", {}), rev=doc.get("rev", 0)
                    )
    return list(found.values())


def resolution_writes(
    resolution: BatchResolution, now: datetime
) -> list[InsertOne[Any] | UpdateOne]:
    writes: list[InsertOne[Any] | UpdateOne] = [
        InsertOne(
            {
                "_id": ObjectId(c.id),
                "attributes": c.attributes,
                "created_at": now,
                "updated_at": now,
                "rev": 1,
            }
        )
        for c in resolution.inserts
    ]
    writes.extend(
        # The rev filter makes the update fail if anyone wrote the customer since we read it.
        UpdateOne(
            {"_id": ObjectId(c.id), "rev": c.rev},
            {"$set": {"attributes": c.attributes, "updated_at": now}, "$inc": {"rev": 1}},
        )
        for c in resolution.updates
    )
    return writes


def release_writes(
    resolution: BatchResolution,
    originals: Mapping[str, Profile],
    identifier_keys: Sequence[str],
) -> list[UpdateOne]:
    """Updates that first take from customers the identifier values the batch gives to
    others (a row can replace a customer's email, and a later row claim it): the unique
    index is checked statement by statement, so they must be free before anyone claims them."""
    writes = []
    for customer in resolution.updates:
        kept = identifiers_kept(originals[customer.id], customer.attributes, identifier_keys)
        if not kept:
            continue
        update: dict[str, Any] = {}
        for key, values in kept.items():
            if values is None:
                update.setdefault("$unset", {})[f"attributes.{key}"] = ""
            else:
                update.setdefault("$set", {})[f"attributes.{key}"] = values
        writes.append(UpdateOne({"_id": ObjectId(customer.id), "rev": customer.rev}, update))
    return writes


async def write_resolution(
    resolution: BatchResolution,
    session: AsyncClientSession,
    originals: Mapping[str, Profile],
    identifier_keys: Sequence[str],
) -> None:
    """Free the identifier values that change hands, then apply the inserts and updates in
    one unordered bulk_write, inside the caller's transaction; raises WriteConflict (or a
    duplicate-key error) so the caller retries."""
    collection = Customer.get_pymongo_collection()
    releases = release_writes(resolution, originals, identifier_keys)
    if releases:
        released = await collection.bulk_write(releases, ordered=False, session=session)
        if released.matched_count != len(releases):
            raise WriteConflict(
                f"{len(releases) - released.matched_count} customer(s) changed concurrently"
            )
    writes = resolution_writes(resolution, utcnow())
    if not writes:
        return
    result = await collection.bulk_write(writes, ordered=False, session=session)
    expected_updates = len(resolution.updates)
    if result.matched_count != expected_updates:
        raise WriteConflict(
            f"{expected_updates - result.matched_count} customer(s) changed concurrently"
        )


def _is_retryable(error: Exception) -> bool:
    """A concurrent writer got in first: an identifier inserted meanwhile (duplicate key),
    a customer changed since we read it, or the server's own write conflict."""
    if isinstance(error, WriteConflict | DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        return all(e.get("code") == 11000 for e in error.details.get("writeErrors", []))
    return isinstance(error, OperationFailure) and error.has_error_label(
        "TransientTransactionError"
    )


async def resolve_and_commit(
    rows: Sequence[RowInput],
    *,
    action: Action,
    deduplication_keys: Sequence[str],
    schema: RecordSchema,
    dry_run: bool,
    lookup_chunk_size: int,
    in_transaction: InTransaction | None = None,
) -> BatchResolution | None:
    """Resolve `rows` (in order) against the customers as they are now and commit the writes
    in one transaction, resolving again when a concurrent writer got in first.
    `in_transaction` runs inside the same transaction; when it returns False the transaction
    is aborted and None returned (another delivery already did the work)."""
    identifier_keys = [a.key for a in schema.channel_identifiers]
    wanted: set[IdentifierValue] = set()
    for row in rows:
        if not row.errors:
            wanted |= identifier_values(row.values, identifier_keys)
    for attempt in range(RESOLVE_RETRIES):
        existing = await find_owners(wanted, lookup_chunk_size)
        originals = {c.id: copy.deepcopy(c.attributes) for c in existing}  # resolving edits them
        resolution = resolve_batch(
            rows,
            existing,
            action=action,
            deduplication_keys=deduplication_keys,
            schema=schema,
            new_id=new_customer_id,
        )
        try:
            async with db.client().start_session() as session:  # noqa: SIM117 - needs session
                async with await session.start_transaction():
                    if not dry_run:
                        await write_resolution(resolution, session, originals, identifier_keys)
                    if in_transaction is not None and not await in_transaction(resolution, session):
                        await session.abort_transaction()
                        return None
            return resolution
        except (PyMongoError, WriteConflict) as error:
            if not _is_retryable(error):
                raise
            if attempt == RESOLVE_RETRIES - 1:
                raise Conflict(
                    f"Other writers kept changing the same customers ({RESOLVE_RETRIES} "
                    "attempts); nothing was written, try again"
                ) from error
            log.warning(
                "batch write attempt %d failed (%s %r); resolving again",
                attempt + 1,
                type(error).__name__,
                getattr(error, "details", error),
            )
            # Random, growing waits so two writers that collided do not collide again in step.
            await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))
    raise AssertionError("unreachable: the last attempt raises")


def customer_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        **doc.get("attributes", {}),
        "createdAt": doc.get("created_at"),
        "updatedAt": doc.get("updated_at"),
    }


async def get_customer(customer_id: str) -> dict[str, Any]:
    try:
        oid = ObjectId(customer_id)
    except InvalidId:
        raise NotFound(f"No customer with id {customer_id!r}") from None
    doc = await Customer.get_pymongo_collection().find_one({"_id": oid})
    if doc is None:
        raise NotFound(f"No customer with id {customer_id!r}")
    return customer_json(doc)


async def list_customers(
    schema: RecordSchema, filters: Mapping[str, str], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    query: dict[str, Any] = {}
    for key, value in filters.items():
        attribute = schema.attribute(key)
        if attribute is None:
            raise InvalidRequest(f"Unknown attribute to filter on: {key}")
        query[f"attributes.{key}"] = _filter_value(schema, key, value)
    collection = Customer.get_pymongo_collection()
    total = await collection.count_documents(query)
    cursor = collection.find(query).sort("created_at", 1).skip(offset).limit(limit)
    return [customer_json(doc) async for doc in cursor], total


def _filter_value(schema: RecordSchema, key: str, value: str) -> Any:
    """Filters match the stored (normalised) form, so normalise the filter the same way."""
    from domain.validation import RowValidator

    attribute = schema.attribute(key)
    assert attribute is not None
    normalized, error = RowValidator(schema, phone_policy="possible").normalize_value(
        attribute, value
    )
    return value.strip() if error else normalized
