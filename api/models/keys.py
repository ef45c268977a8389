"""Bodies of the key routes."""

from __future__ import annotations

from datetime import datetime

from api.models.base import CamelStruct


class KeyOwner(CamelStruct):
    name: str
    role: str


class CreatedKey(CamelStruct):
    name: str
    role: str
    key: str  # shown once: only its hash is stored


class SessionOpened(CamelStruct):
    token: str  # for the UI server's HttpOnly cookie; shown once, only its hash is stored
    name: str
    role: str
    expires_at: datetime
