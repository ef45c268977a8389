"""The four duplicate actions as pure functions (DESIGN.md §3, fixed semantics)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from domain.schema import RecordSchema
from domain.validation import Profile


class Action(StrEnum):
    IGNORE = "ignore"
    REPLACE = "replace"
    UPDATE = "update"
    APPEND = "append"


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def apply_action(action: Action, existing: Profile, row: Profile, schema: RecordSchema) -> Profile:
    """The profile that results from `action` on `existing` with the row's provided values.

    `row` holds only provided values (mapped, non-empty, normalised); multi-value attributes
    are lists. The result never holds empty values: an emptied field is absent.
    """
    if action is Action.IGNORE:
        return dict(existing)
    if action is Action.REPLACE:
        return {key: _copy(value) for key, value in row.items()}
    result = {key: _copy(value) for key, value in existing.items() if not is_empty(value)}
    for key, value in row.items():
        if action is Action.UPDATE:
            if is_empty(existing.get(key)):
                result[key] = _copy(value)
            continue
        attribute = schema.attribute(key)
        if attribute is not None and attribute.multi_value:
            current = as_list(result.get(key))
            result[key] = current + [v for v in value if v not in current]
        else:
            result[key] = _copy(value)
    return result


def as_list(value: Any) -> list[Any]:
    if is_empty(value):
        return []
    return list(value) if isinstance(value, list) else [value]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
