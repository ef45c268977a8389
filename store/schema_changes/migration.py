"""Moving the values customers hold to the schema's current shape, as its last change
recorded in `migration` (unset removed attributes, convert reshaped ones, release the claims
of attributes no longer identifiers). Idempotent: a process that dies midway leaves the rest
to the next change or start."""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne

from domain.schema import Attribute
from domain.schema_changes import convert
from domain.validation import RowValidator
from store.customers import claims
from store.documents import Customer, utcnow
from store.schema_changes import versions

WRITE_CHUNK = 1000


def claim_range(key: str) -> dict[str, Any]:
    """Every claim of the attribute: `_id`s "<key>:<value>" sort between these two."""
    return {"_id": {"$gte": f"{key}:", "$lt": f"{key};"}}


async def finish_migration(record_type: str) -> None:
    """Move the values customers hold to the schema's current shape, as its last change
    recorded (idempotent: converting a converted value gives it back)."""
    doc = await versions.schema_documents().find_one({"_id": record_type})
    if doc is None or not doc.get("migration"):
        return
    migration, current = doc["migration"], versions.stored_schema(record_type, doc)
    now = utcnow()
    for key in migration["unset"]:
        await Customer.get_pymongo_collection().update_many(
            {f"attributes.{key}": {"$exists": True}},
            {"$unset": {f"attributes.{key}": ""}, "$set": {"updated_at": now}, "$inc": {"rev": 1}},
        )
    validator = RowValidator(current.schema, phone_policy=migration["phonePolicy"])
    for attribute_json in migration["convert"]:
        await _convert_values(Attribute.model_validate(attribute_json), validator)
    for key in migration["release"]:
        await claims.collection().delete_many(claim_range(key))
    await versions.schema_documents().update_one(
        {"_id": record_type, "version": current.version}, {"$unset": {"migration": ""}}
    )


async def _convert_values(attribute: Attribute, validator: RowValidator) -> None:
    key, normalize = attribute.key, validator.normalizer(attribute)
    path = f"attributes.{key}"
    writes: list[UpdateOne] = []
    async for doc in Customer.get_pymongo_collection().find({path: {"$exists": True}}, {path: 1}):
        value = (doc.get("attributes") or {}).get(key)
        converted = convert(value, attribute, normalize)
        if converted.reason is not None or converted.value == value:
            continue  # checked before the switch; a value written since is the writer's
        change: dict[str, Any] = {"$set": {"updated_at": utcnow()}, "$inc": {"rev": 1}}
        if converted.value in (None, []):
            change["$unset"] = {path: ""}
        else:
            change["$set"][path] = converted.value
        writes.append(UpdateOne({"_id": doc["_id"], path: value}, change))
        if len(writes) >= WRITE_CHUNK:
            await Customer.get_pymongo_collection().bulk_write(writes, ordered=False)
            writes = []
    if writes:
        await Customer.get_pymongo_collection().bulk_write(writes, ordered=False)
