"""The synchronous JSON bulk request (DESIGN.md §6): parsing customers into rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from domain.actions import Action
from domain.deduplication_keys import deduplication_keys
from domain.resolution import RowInput
from domain.validation import RowValidator


class BulkRequest(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    record_type: str = "customers"
    action: Action = Action.IGNORE
    deduplication_keys: list[str] = Field(default_factory=list)
    channel_identifier: str | None = None  # synonym of deduplicationKeys with one entry
    phone_default_region: str | None = None
    customers: list[dict[str, Any]]

    @model_validator(mode="after")
    def _keys_given(self) -> BulkRequest:
        self.deduplication_keys = deduplication_keys(
            self.deduplication_keys, self.channel_identifier
        )
        if not self.customers:
            raise ValueError("customers must hold at least one customer")
        return self


def _texts(value: Any) -> list[str] | None:
    """The raw texts of one attribute: a scalar is a one-element list. None if unusable."""
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, bool):
            texts.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            texts.append(str(item))
        else:
            return None
    return texts


def customer_row(
    index: int, customer: Mapping[str, Any], validator: RowValidator, max_field_chars: int
) -> RowInput:
    """Validate one customer of the request the way a CSV row is validated, with the same
    cap on the length of a value (MAX_FIELD_CHARS)."""
    cells: dict[str, list[str]] = {}
    errors: list[str] = []
    for key, value in customer.items():
        attribute = validator.schema.attribute(key)
        if attribute is None:
            errors.append(f"Unknown attribute: {key}")
            continue
        texts = _texts(value)
        if texts is None:
            errors.append(f"Invalid value for {key}: give a string, number, boolean or a list")
            continue
        if not attribute.multi_value and len(texts) > 1:
            errors.append(f"Several values for single-value field {key}")
            continue
        too_long = max((len(t) for t in texts), default=0)
        if too_long > max_field_chars:
            errors.append(
                f"Value of {key} too long: {too_long} characters, at most {max_field_chars}"
            )
            continue
        cells[key] = texts
    validated = validator.validate_cells(cells)
    return RowInput(index, validated.values, [*errors, *validated.errors])
