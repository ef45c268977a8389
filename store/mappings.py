"""Remembered mappings in MongoDB (domain.remembered): one document per header set, `_id`
its header-set id, holding the mapping a person last imported that header set with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from domain.audit import AuditAction
from domain.remembered import RememberedMapping, best_match, header_key, header_set_id
from store import audit
from store.audit import Target
from store.documents import Customer, utcnow
from store.errors import NotFound
from store.principal import Principal

COLLECTION = "remembered_mappings"
NEAR_CANDIDATES = 200  # most recent mappings compared when no header set is the same


def collection() -> AsyncCollection[dict[str, Any]]:
    return Customer.get_pymongo_collection().database[COLLECTION]


def _remembered(doc: Mapping[str, Any]) -> RememberedMapping:
    return RememberedMapping(
        str(doc["_id"]), {header_key(c["column"]): c["field"] for c in doc["columns"]}
    )


async def remember(
    record_type: str, header: Sequence[str], mapping: Mapping[str, str], created_by: str
) -> None:
    """Keep `mapping` (column → attribute; the header's other columns left out) for the
    header set."""
    columns = [{"column": column, "field": mapping.get(column)} for column in header]
    await collection().update_one(
        {"_id": header_set_id(header)},
        {
            "$set": {
                "record_type": record_type,
                "columns": columns,
                "created_by": created_by,
                "updated_at": utcnow(),
            }
        },
        upsert=True,
    )


async def find(record_type: str, header: Sequence[str]) -> RememberedMapping | None:
    """The mapping remembered for this header set, or for the most similar nearly-same one."""
    same = await collection().find_one({"_id": header_set_id(header), "record_type": record_type})
    if same is not None:
        return _remembered(same)
    recent = (
        collection()
        .find({"record_type": record_type})
        .sort("updated_at", -1)
        .limit(NEAR_CANDIDATES)
    )
    return best_match(header, [_remembered(doc) async for doc in recent])


async def list_mappings(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = await collection().count_documents({})
    cursor = collection().find().sort([("updated_at", -1), ("_id", 1)]).skip(offset).limit(limit)
    return await cursor.to_list(), total


async def delete_mapping(mapping_id: str, by: Principal) -> None:
    result = await collection().delete_one({"_id": mapping_id})
    if result.deleted_count == 0:
        raise NotFound(f"No remembered mapping with id {mapping_id!r}")
    await audit.record(AuditAction.MAPPING_DELETED, by, Target("mapping", mapping_id))
