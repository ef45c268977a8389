"""The record schemas as data in MongoDB, and the unique indexes they imply."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel

from domain.schema import DEFAULT_SCHEMAS, RecordSchema
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


async def replace_schema(schema: RecordSchema) -> RecordSchema:
    if await SchemaDocument.get(schema.record_type) is None:
        raise NotFound(f"Unknown record type: {schema.record_type}")
    await SchemaDocument.get_pymongo_collection().update_one(
        {"_id": schema.record_type},
        {"$set": {"attributes": _attributes_json(schema), "updated_at": utcnow()}},
    )
    await ensure_customer_indexes(schema)
    return schema


IDENTIFIER_INDEX_PREFIX = "unique_identifier_"


def identifier_index_name(key: str) -> str:
    return IDENTIFIER_INDEX_PREFIX + key


async def ensure_customer_indexes(schema: RecordSchema) -> None:
    """One unique index per channel identifier: two customers never share a value.
    Sparse, so customers without the attribute do not collide on a missing value. Not
    partial: an `$in` lookup cannot be proven to fall inside a partial index's filter by
    every server (SecantusDB scans the whole collection instead), while any server uses a
    sparse index for it."""
    collection = Customer.get_pymongo_collection()
    async for index in await collection.list_indexes():
        if index["name"].startswith(IDENTIFIER_INDEX_PREFIX) and not index.get("sparse"):
            await collection.drop_index(index["name"])  # the partial index of earlier versions
    models = [
        IndexModel(
            [(f"attributes.{a.key}", ASCENDING)],
            name=identifier_index_name(a.key),
            unique=True,
            sparse=True,
        )
        for a in schema.channel_identifiers
    ]
    models.append(IndexModel([("created_at", ASCENDING)], name="created_at"))
    await collection.create_indexes(models)
