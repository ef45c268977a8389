"""Bodies of the remembered mappings (GET /mappings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.models.base import CamelStruct


class RememberedMappingBody(CamelStruct):
    """A header set and the mapping last imported with it: column → attribute key, or
    null for a column left out."""

    id: str
    record_type: str
    headers: list[str]
    mapping: dict[str, str | None]
    created_by: str
    updated_at: datetime

    @classmethod
    def of(cls, doc: dict[str, Any]) -> RememberedMappingBody:
        return cls(
            id=str(doc["_id"]),
            record_type=doc["record_type"],
            headers=[c["column"] for c in doc["columns"]],
            mapping={c["column"]: c["field"] for c in doc["columns"]},
            created_by=doc.get("created_by", ""),
            updated_at=doc["updated_at"],
        )


class RememberedMappingList(CamelStruct):
    items: list[RememberedMappingBody]
    total: int
