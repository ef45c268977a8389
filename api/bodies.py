"""Request bodies that handlers read themselves: JSON validated strictly against its model
(a string is not a number, "yes" is not true), within the nesting limit."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


def _depth(value: Any) -> int:
    """Levels of lists and objects in a parsed JSON value, without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest


def _values(model: BaseModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in type(model).model_fields}


def parse_json(
    raw: bytes | str, model: type[Model], max_depth: int, what: str = "the body"
) -> Model:
    try:
        parsed = model.model_validate_json(raw, strict=True)
    except ValidationError as error:
        if any("recursion limit" in item["msg"] for item in error.errors()):
            raise InvalidRequest(
                f"{what} is nested too deeply (at most {max_depth} levels)"
            ) from None
        raise
    # The list of the model's values stands for the body's own level.
    if _depth(list(_values(parsed).values())) > max_depth:
        raise InvalidRequest(f"{what} is nested too deeply (at most {max_depth} levels)")
    return parsed
