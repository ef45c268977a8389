"""Reading customers: one by id, or a page of them filtered by attributes. Writing them is
store.customers.commit's (imports and bulk requests alike)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import ExecutionTimeout

from domain.errors import InvalidRequest
from domain.schema import RecordSchema
from store.customers import claims
from store.documents import Customer
from store.errors import NotFound
from store.throttle import ScanSlots


def customer_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        **doc.get("attributes", {}),
        "createdAt": doc.get("created_at"),
        "updatedAt": doc.get("updated_at"),
        "lastImportId": last_import_id(doc.get("written_by")),
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


def last_import_id(written_by: str | None) -> str | None:
    """The import that last wrote a customer (`written_by`), unless a bulk request did (its
    writer id ends in "-bulk")."""
    return written_by if written_by and ObjectId.is_valid(written_by) else None


@dataclass(frozen=True)
class ScanLimits:
    """How far a filter without a channel identifier may read every customer."""

    seconds: float  # CUSTOMER_SCAN_SECONDS
    max_customers: int  # CUSTOMER_SCAN_MAX_CUSTOMERS: beyond, refused before reading
    slots: ScanSlots | None  # CUSTOMER_SCANS_PER_KEY, CUSTOMER_SCANS_AT_ONCE
    key_id: str  # whose slot


async def list_customers(
    schema: RecordSchema, filters: Mapping[str, str], page: tuple[int, int], limits: ScanLimits
) -> tuple[list[dict[str, Any]], int]:
    """A page (limit, offset) of the customers matching every filter, and their number. A
    filter on an identifier goes by its claim; without one, the customers are read in one
    pass, in a scan slot (few at a time: a scan holds up lookups), within `limits`."""
    limit, offset = page
    query: dict[str, Any] = {}
    for key, value in filters.items():
        attribute = schema.attribute(key)
        if attribute is None:
            raise InvalidRequest(f"Unknown attribute to filter on: {key}")
        normalized = _filter_value(schema, key, value)
        query[f"attributes.{key}"] = normalized
        if attribute.channel_identifier:
            # An identifier value names one customer: its claim says which, by `_id`.
            found = await claims.read([(key, normalized)], 1)
            claim = found.get((key, normalized))
            query["_id"] = {"$in": [ObjectId(c) for c in claim.candidates] if claim else []}
    collection = Customer.get_pymongo_collection()
    if not filters or "_id" in query:
        total = await collection.count_documents(query)
        cursor = collection.find(query).sort("_id", 1).skip(offset).limit(limit)
        return [customer_json(doc) async for doc in cursor], total
    held = await _customers_held()
    if held > limits.max_customers:
        raise InvalidRequest(
            f"Listing customers by {', '.join(filters)} would read all {held:,} customers (a "
            f"filter without a channel identifier reads at most {limits.max_customers:,}); "
            f"filter by a channel identifier (for example email or phoneNumber) as well"
        )
    try:
        async with nullcontext() if limits.slots is None else limits.slots.slot(limits.key_id):
            # The server's limit, and ours on the answer should it not keep to it.
            result = await asyncio.wait_for(_scan(query, page, limits.seconds), limits.seconds + 2)
    except (ExecutionTimeout, TimeoutError):
        raise InvalidRequest(
            f"Listing customers by {', '.join(filters)} reads every customer and took longer "
            f"than {limits.seconds:g} s; filter by a channel identifier (for example email or "
            "phoneNumber) as well"
        ) from None
    total = result["total"][0]["n"] if result["total"] else 0
    return [customer_json(doc) for doc in result["items"]], total


_HELD_SECONDS = 60.0  # how long the number of customers is taken as known
_held: dict[str, float] = {}
_counting = asyncio.Lock()


async def _customers_held() -> int:
    """About how many customers there are, counted at most once a minute per process: on
    SecantusDB even the estimated count reads the collection (1.5 s for 94,000 customers,
    holding up lookups meanwhile), and ten requests at once must not count ten times."""
    async with _counting:
        if time.monotonic() - _held.get("at", -_HELD_SECONDS) >= _HELD_SECONDS:
            count = await Customer.get_pymongo_collection().estimated_document_count()
            _held.update(count=count, at=time.monotonic())
        return int(_held["count"])


def forget_customers_held() -> None:
    """Count the customers afresh on the next filter (the tests drop the database between
    tests, faster than a minute)."""
    _held.clear()


async def _scan(query: dict[str, Any], page: tuple[int, int], seconds: float) -> dict[str, Any]:
    """One pass over the customers: the page and the total together."""
    limit, offset = page
    pipeline: list[dict[str, Any]] = [
        {"$match": query},
        {"$sort": {"_id": 1}},
        {"$facet": {"items": [{"$skip": offset}, {"$limit": limit}], "total": [{"$count": "n"}]}},
    ]
    collection = Customer.get_pymongo_collection()
    scan = await collection.aggregate(pipeline, maxTimeMS=int(seconds * 1000))
    (result,) = await scan.to_list()
    return dict(result)


def _filter_value(schema: RecordSchema, key: str, value: str) -> Any:
    """Filters match the stored (normalised) form, so normalise the filter the same way."""
    from domain.validation import RowValidator

    attribute = schema.attribute(key)
    assert attribute is not None
    normalized, error = RowValidator(schema, phone_policy="possible").normalize_value(
        attribute, value
    )
    return value.strip() if error else normalized
