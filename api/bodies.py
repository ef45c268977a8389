"""Request bodies that handlers read themselves: JSON validated strictly against its model
(a string is not a number, "yes" is not true), within the nesting limit."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


def _depth_and_non_finite(value: Any) -> tuple[int, bool]:
    """Levels of lists and objects in a parsed JSON value, and whether it holds NaN or an
    infinity (which the parser accepts but JSON has not), without recursion."""
    deepest, non_finite, pending = 0, False, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
        elif isinstance(item, float) and not math.isfinite(item):
            non_finite = True
    return deepest, non_finite


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
    depth, non_finite = _depth_and_non_finite(list(_values(parsed).values()))
    if depth > max_depth:
        raise InvalidRequest(f"{what} is nested too deeply (at most {max_depth} levels)")
    if non_finite:
        raise InvalidRequest(
            f"{what} is not valid JSON: NaN, Infinity and -Infinity are not JSON numbers; "
            "send the value as a string or leave it out"
        )
    return parsed
