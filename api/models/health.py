"""The body of GET /health."""

from __future__ import annotations

from api.models.base import CamelStruct


class Health(CamelStruct):
    status: str  # "ok", or "error" when a part is not answering
    mongo: str
    redis: str
