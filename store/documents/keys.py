"""API keys, their roles, and the browser sessions signed in with them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from store.documents.clock import utcnow


class Role(StrEnum):
    VIEWER = "viewer"
    IMPORTER = "importer"
    ADMIN = "admin"


class ApiKey(Document):
    key_hash: str
    name: str
    role: Role
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None  # from then on the key and its sessions get 401

    class Settings:
        name = "api_keys"
        indexes = [IndexModel([("key_hash", ASCENDING)], unique=True)]


class SignInSession(Document):
    """A signed-in browser: the UI holds its token in an HttpOnly cookie, never the API key.
    `_id` is the token's hash; the key it was opened with lends it its name and role."""

    id: str  # type: ignore[assignment]
    name: str
    role: Role
    key_id: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "sign_in_sessions"
