"""Paging limits and query values shared by the list routes."""

from __future__ import annotations

from datetime import datetime

from domain.errors import InvalidRequest

MAX_OFFSET = 10**9  # beyond any list; larger ones overflow the server's 64-bit skip


def moment(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time of a query, strictly (not a number taken as a timestamp)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or "T" not in value or parsed.tzinfo is None:
        raise InvalidRequest(
            f"Invalid request: {name}: give a date-time with its offset, such as "
            "2026-11-30T00:00:00Z"
        )
    return parsed
