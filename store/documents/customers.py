"""The customers and their record schema. Customers keep their schema attributes under
`attributes`, so that attribute keys never collide with bookkeeping fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field

from store.documents.clock import utcnow


class Customer(Document):
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    rev: int = 0  # bumped on every write: optimistic concurrency between imports
    # The import (its id) or bulk request that wrote the customer last: a revert restores
    # only customers its import wrote last (store.customers.preimages).
    written_by: str | None = None

    class Settings:
        name = "customers"
        # No secondary index: each costs on every insert. Identifier values are unique and
        # found through their claims (store.customers.claims); lists are ordered by `_id`, which
        # follows creation time.


class SchemaDocument(Document):
    id: str  # type: ignore[assignment]  # the record type, e.g. "customers"
    attributes: list[dict[str, Any]]
    version: int = 1  # one more on every accepted change (store.schema_changes); the ETag
    # What the last change still has to do to the values customers hold, until it is done.
    migration: dict[str, Any] | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "record_schemas"
