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


def identifier_index_name(key: str) -> str:
    return f"unique_identifier_{key}"


async def ensure_customer_indexes(schema: RecordSchema) -> None:
    """One unique index per channel identifier: two customers never share a value.
    Partial, so customers without the attribute do not collide on a missing value."""
    models = [
        IndexModel(
            [(f"attributes.{a.key}", ASCENDING)],
            name=identifier_index_name(a.key),
            unique=True,
            partialFilterExpression={f"attributes.{a.key}": {"$exists": True}},
        )
        for a in schema.channel_identifiers
    ]
    models.append(IndexModel([("created_at", ASCENDING)], name="created_at"))
    await Customer.get_pymongo_collection().create_indexes(models)
