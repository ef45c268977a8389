"""The record schemas as data in MongoDB, and the unique indexes they imply."""

from __future__ import annotations

from typing import Any

from domain.audit import AuditAction
from domain.schema import DEFAULT_SCHEMAS, RecordSchema
from store import audit, claims
from store.audit import Target
from store.auth import Principal
from store.documents import Customer, SchemaDocument, utcnow
from store.errors import NotFound


def _attributes_json(schema: RecordSchema) -> list[dict[str, Any]]:
    return [a.model_dump(by_alias=True, mode="json") for a in schema.attributes]


async def ensure_default_schemas() -> None:
    for record_type, schema in DEFAULT_SCHEMAS.items():
        if await SchemaDocument.get(record_type) is None:
            document = SchemaDocument(id=record_type, attributes=_attributes_json(schema))
            await SchemaDocument.get_pymongo_collection().update_one(
                {"_id": record_type},
                {"$setOnInsert": document.model_dump(by_alias=True, exclude={"id"})},
                upsert=True,
            )
        await ensure_customer_indexes(await get_schema(record_type))


async def get_schema(record_type: str) -> RecordSchema:
    document = await SchemaDocument.get(record_type)
    if document is None:
        raise NotFound(f"Unknown record type: {record_type}")
    return RecordSchema.model_validate(
        {"recordType": record_type, "attributes": document.attributes}
    )


async def replace_schema(schema: RecordSchema, by: Principal) -> RecordSchema:
    before = await get_schema(schema.record_type)
    await SchemaDocument.get_pymongo_collection().update_one(
        {"_id": schema.record_type},
        {"$set": {"attributes": _attributes_json(schema), "updated_at": utcnow()}},
    )
    target = Target("schema", schema.record_type)
    await audit.record(AuditAction.SCHEMA_UPDATED, by, target, _changed_keys(before, schema))
    known = {a.key for a in before.channel_identifiers}
    added = [a.key for a in schema.channel_identifiers if a.key not in known]
    if added:  # values customers already hold in a new identifier need their claims
        await claims.backfill(Customer.get_pymongo_collection(), added)
    return schema


def _changed_keys(before: RecordSchema, after: RecordSchema) -> dict[str, list[str]]:
    """The attribute keys a schema change added, removed and changed, for its audit event."""
    old = {a.key: a for a in before.attributes}
    new = {a.key: a for a in after.attributes}
    return {
        "added": [key for key in new if key not in old],
        "removed": [key for key in old if key not in new],
        "changed": [key for key in new if key in old and new[key] != old[key]],
    }


LEGACY_INDEXES = ("created_at",)
LEGACY_INDEX_PREFIX = "unique_identifier_"


async def ensure_customer_indexes(schema: RecordSchema) -> None:
    """Customers need no secondary index: identifier values are kept unique, and found, by
    their claims (store.claims), and each index costs on every insert. Indexes of earlier
    versions are dropped, once their values have claims."""
    collection = Customer.get_pymongo_collection()
    identifier_keys = [a.key for a in schema.channel_identifiers]
    legacy = [
        index["name"]
        async for index in await collection.list_indexes()
        if index["name"].startswith(LEGACY_INDEX_PREFIX) or index["name"] in LEGACY_INDEXES
    ]
    claims_missing = await claims.collection().estimated_document_count() == 0
    if legacy or (claims_missing and await collection.estimated_document_count() > 0):
        await claims.backfill(collection, identifier_keys)
    for name in legacy:
        await collection.drop_index(name)
