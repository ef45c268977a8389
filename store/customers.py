"""Reading customers: one by id, or a page of them filtered by attributes. Writing them is
store.commit's (imports and bulk requests alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import ExecutionTimeout

from domain.errors import InvalidRequest
from domain.schema import RecordSchema
from store import claims
from store.documents import Customer
from store.errors import NotFound

LIST_TIME_LIMIT_MS = 10_000  # a filter on a non-identifier attribute scans: bounded


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
    return customer_json(doc) | {"lastImportId": last_import_id(doc.get("written_by"))}


def last_import_id(written_by: str | None) -> str | None:
    """The import that last wrote a customer (`written_by`), unless a bulk request did (its
    writer id ends in "-bulk")."""
    return written_by if written_by and ObjectId.is_valid(written_by) else None


async def list_customers(
    schema: RecordSchema, filters: Mapping[str, str], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
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
    try:
        total = await collection.count_documents(query, maxTimeMS=LIST_TIME_LIMIT_MS)
        cursor = collection.find(query, max_time_ms=LIST_TIME_LIMIT_MS).sort("_id", 1)
        items = [customer_json(doc) async for doc in cursor.skip(offset).limit(limit)]
    except ExecutionTimeout:
        scanned = ", ".join(k for k in filters if not _is_identifier(schema, k)) or "no filter"
        raise InvalidRequest(
            f"Listing customers by {scanned} reads every customer and took longer than "
            f"{LIST_TIME_LIMIT_MS / 1000:g} s; filter by a channel identifier (for example "
            "email or phoneNumber) as well"
        ) from None
    return items, total


def _is_identifier(schema: RecordSchema, key: str) -> bool:
    attribute = schema.attribute(key)
    return attribute is not None and attribute.channel_identifier


def _filter_value(schema: RecordSchema, key: str, value: str) -> Any:
    """Filters match the stored (normalised) form, so normalise the filter the same way."""
    from domain.validation import RowValidator

    attribute = schema.attribute(key)
    assert attribute is not None
    normalized, error = RowValidator(schema, phone_policy="possible").normalize_value(
        attribute, value
    )
    return value.strip() if error else normalized
