"""Bodies of the record-type routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from api.models.base import CamelStruct

AttributeTypeName = Literal["string", "email", "phone", "number", "integer", "boolean", "date"]


class RecordType(CamelStruct):
    name: str
    label: str


class AttributeBody(CamelStruct):
    key: str
    label: str
    type: AttributeTypeName = "string"
    required: bool = False
    multi_value: bool = False
    channel_identifier: bool = False
    synonyms: list[str] = []


class SchemaBody(CamelStruct):
    record_type: str
    attributes: list[AttributeBody]


class ChannelIdentifier(CamelStruct):
    key: str
    label: str


class SchemaVersionBody(CamelStruct):
    """One accepted change: who made it, when, and what changed (`diff`: attributes `added`
    and `removed`, `changed` ones with each field's `before` and `after`, `reordered`, and
    `restoredFrom`: the version a restore brought back, else null)."""

    version: int
    at: datetime
    by: str
    diff: dict[str, Any]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> SchemaVersionBody:
        return cls(version=doc["version"], at=doc["at"], by=doc["by"], diff=doc["diff"])


class SchemaVersionList(CamelStruct):
    items: list[SchemaVersionBody]
    total: int
