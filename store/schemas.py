"""The record schemas as data in MongoDB (changed through store.schema_changes), and the
indexes they imply."""

from __future__ import annotations

from domain.schema import DEFAULT_SCHEMAS, RecordSchema
from store.customers import claims
from store.documents import Customer, SchemaDocument
from store.schema_changes import versions
from store.schema_changes.migration import finish_migration


async def ensure_default_schemas() -> None:
    for record_type, schema in DEFAULT_SCHEMAS.items():
        if await SchemaDocument.get(record_type) is None:
            document = SchemaDocument(id=record_type, attributes=versions.attributes_json(schema))
            await SchemaDocument.get_pymongo_collection().update_one(
                {"_id": record_type},
                {"$setOnInsert": document.model_dump(by_alias=True, exclude={"id"})},
                upsert=True,
            )
        await versions.record_first_version(record_type)
        await finish_migration(record_type)
        await ensure_customer_indexes(await get_schema(record_type))


async def get_schema(record_type: str) -> RecordSchema:
    return (await versions.load(record_type)).schema


LEGACY_INDEXES = ("created_at",)
LEGACY_INDEX_PREFIX = "unique_identifier_"


async def ensure_customer_indexes(schema: RecordSchema) -> None:
    """Customers need no secondary index: identifier values are kept unique, and found, by
    their claims (store.customers.claims), and each index costs on every insert. Indexes of earlier
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
