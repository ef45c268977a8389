"""What every body of the contract shares: camelCase field names, and one error shape."""

from __future__ import annotations

import msgspec


class CamelStruct(msgspec.Struct, rename="camel", kw_only=True):
    """A JSON body whose Python fields are snake_case and whose wire names are camelCase."""


class ErrorBody(CamelStruct):
    """Every 4xx and 5xx answer: `detail` says what was wrong and what to do about it."""

    status_code: int = msgspec.field(name="status_code")
    detail: str
    missing_required: list[str] | None = None
