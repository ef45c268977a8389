"""Bodies of the key routes."""

from __future__ import annotations

from datetime import datetime

from api.models.base import CamelStruct


class KeyOwner(CamelStruct):
    name: str
    role: str
    key_id: str  # names the key (as the audit trail and an import's createdByKeyId do)


class CreatedKey(CamelStruct):
    id: str  # names the key to revoke it (DELETE /api-keys/{id})
    name: str
    role: str
    created_at: datetime
    key: str  # shown once: only its hash is stored


class KeyBody(CamelStruct):
    """A key as listed: never the key itself. `createdAt` is null for the ADMIN_API_KEY key
    (listed with the id "ADMIN_API_KEY"); `lastUsedAt` is kept to the minute."""

    id: str
    name: str
    role: str
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyList(CamelStruct):
    items: list[KeyBody]


class SessionOpened(CamelStruct):
    token: str  # for the UI server's HttpOnly cookie; shown once, only its hash is stored
    name: str
    role: str
    expires_at: datetime
