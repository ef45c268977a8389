"""The stored schema of a record type, its version (the ETag), and the schema of every
version, kept in `schema_versions` as "<record type>:<version>"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from domain.schema import RecordSchema
from domain.schema_changes import SchemaDiff, diff
from store.documents import Customer, SchemaDocument, utcnow
from store.errors import NotFound

VERSIONS = "schema_versions"


def version_documents() -> AsyncCollection[dict[str, Any]]:
    return Customer.get_pymongo_collection().database[VERSIONS]


def schema_documents() -> AsyncCollection[dict[str, Any]]:
    return SchemaDocument.get_pymongo_collection()


def attributes_json(schema: RecordSchema) -> list[dict[str, Any]]:
    return [a.model_dump(by_alias=True, mode="json") for a in schema.attributes]


@dataclass(frozen=True)
class StoredSchema:
    schema: RecordSchema
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def stored_schema(record_type: str, doc: dict[str, Any]) -> StoredSchema:
    schema = RecordSchema.model_validate(
        {"recordType": record_type, "attributes": doc["attributes"]}
    )
    return StoredSchema(schema, int(doc.get("version") or 1))


async def load(record_type: str) -> StoredSchema:
    doc = await schema_documents().find_one({"_id": record_type})
    if doc is None:
        raise NotFound(f"Unknown record type: {record_type}")
    return stored_schema(record_type, doc)


def _version_id(record_type: str, version: int) -> str:
    return f"{record_type}:{version}"


async def record_first_version(record_type: str) -> None:
    """Version 1 is the schema as first stored (databases of earlier releases included)."""
    await schema_documents().update_one(
        {"_id": record_type, "version": {"$exists": False}}, {"$set": {"version": 1}}
    )
    first = await load(record_type)
    if first.version == 1:
        await save_version(record_type, 1, first.schema, "system", diff(None, first.schema))


async def save_version(
    record_type: str,
    version: int,
    schema: RecordSchema,
    by: str,
    change: SchemaDiff,
    restored_from: int | None = None,
) -> None:
    record = {
        "record_type": record_type,
        "version": version,
        "at": utcnow(),
        "by": by,
        "diff": {**change.as_json(), "restoredFrom": restored_from},
        "attributes": attributes_json(schema),
    }
    await version_documents().update_one(
        {"_id": _version_id(record_type, version)}, {"$setOnInsert": record}, upsert=True
    )


async def list_versions(record_type: str, limit: int, offset: int) -> tuple[list[Any], int]:
    await load(record_type)  # 404 for an unknown record type
    query = {"record_type": record_type}
    total = await version_documents().count_documents(query)
    cursor = version_documents().find(query, {"attributes": 0}).sort("version", -1)
    return await cursor.skip(offset).limit(limit).to_list(), total


async def version_schema(record_type: str, version: int) -> RecordSchema:
    doc = await version_documents().find_one({"_id": _version_id(record_type, version)})
    if doc is None:
        raise NotFound(f"{record_type} has no schema version {version}")
    return RecordSchema.model_validate({"recordType": record_type, "attributes": doc["attributes"]})
