"""Bodies of the record-type routes."""

from __future__ import annotations

from typing import Literal

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
