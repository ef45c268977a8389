"""Bodies of the key routes."""

from __future__ import annotations

from api.models.base import CamelStruct


class KeyOwner(CamelStruct):
    name: str
    role: str


class CreatedKey(CamelStruct):
    name: str
    role: str
    key: str  # shown once: only its hash is stored
