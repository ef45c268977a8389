"""Bodies of the customer routes. A customer's attributes are the live schema's, so a customer
is an open object: `id`, `createdAt`, `updatedAt` and one member per attribute."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from api.models.base import CamelStruct

CustomerBody = dict[str, Any]


class CustomerPage(CamelStruct):
    items: list[CustomerBody]
    total: int


class RejectedCustomer(CamelStruct):
    customer: CustomerBody
    reason: str


class BulkResult(CamelStruct):
    inserted_count: int
    updated_count: int
    ignored_count: int
    appended_count: int
    rejected_count: int
    rejected_customers: list[RejectedCustomer]


class FieldChange(CamelStruct):
    field: str
    before: Any
    after: Any


class HistoryEntry(CamelStruct):
    at: datetime
    import_id: str  # the import, or the revert job (then `revertOf` names the import)
    kind: Literal["import", "revert"]
    action: str
    outcome: Literal["imported", "updated", "restored", "deleted"]
    changes: list[FieldChange]
    revert_of: str | None = None


class CustomerHistory(CamelStruct):
    items: list[HistoryEntry]
