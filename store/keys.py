"""The API keys' life cycle beyond signing in (store.auth): listing them, revoking one (its
sign-in sessions end with it), and when each was last used, written at most once a minute
per key by each process."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.collection import AsyncCollection

from config import Settings
from domain.audit import AuditAction
from store import audit
from store.audit import Target
from store.auth import hash_key
from store.documents import ApiKey, Customer, SignInSession, utcnow
from store.errors import Conflict, NotFound
from store.principal import Principal

ADMIN_KEY_ID = "ADMIN_API_KEY"  # how the key of that setting is listed
USAGE = "api_key_usage"
USAGE_WRITE_SECONDS = 60.0
_written: dict[str, float] = {}  # key id → when this process last wrote its use (monotonic)


def _usage() -> AsyncCollection[dict[str, Any]]:
    return Customer.get_pymongo_collection().database[USAGE]


def key_id_of(key_hash: str) -> str:
    """The name a key goes by in limits, sessions and usage (store.auth.Principal.key_id)."""
    return key_hash[:16]


async def touch(key_id: str) -> None:
    """Note that the key (or a session opened with it) was used now."""
    now = time.monotonic()
    if now - _written.get(key_id, -USAGE_WRITE_SECONDS) < USAGE_WRITE_SECONDS:
        return
    _written[key_id] = now
    await _usage().update_one({"_id": key_id}, {"$max": {"at": utcnow()}}, upsert=True)


async def list_keys(settings: Settings) -> list[dict[str, Any]]:
    """Every key, the ADMIN_API_KEY one first, then the newest first; never a key itself."""
    stored = await ApiKey.find_all().sort("-created_at").to_list()
    admin_id = key_id_of(hash_key(settings.admin_api_key)) if settings.admin_api_key else None
    ids = [key_id_of(k.key_hash) for k in stored] + ([admin_id] if admin_id else [])
    used: dict[str, datetime] = {
        doc["_id"]: doc["at"] async for doc in _usage().find({"_id": {"$in": ids}})
    }
    items = [
        {
            "id": str(k.id),
            "name": k.name,
            "role": k.role.value,
            "created_at": k.created_at,
            "last_used_at": used.get(key_id_of(k.key_hash)),
            "revoked_at": k.revoked_at,
        }
        for k in stored
    ]
    if admin_id:
        admin = {"id": ADMIN_KEY_ID, "name": "admin", "role": "admin", "created_at": None}
        items.insert(0, {**admin, "last_used_at": used.get(admin_id), "revoked_at": None})
    return items


async def revoke(key: str, by: Principal) -> ApiKey:
    """Revoke a stored key and end its sessions: from the next request both get 401.
    Revoking a revoked key changes nothing."""
    if key == ADMIN_KEY_ID:
        raise Conflict(
            "The ADMIN_API_KEY key is governed by its setting: change the setting (and restart) "
            "to retire it; it cannot be revoked here"
        )
    try:
        oid = ObjectId(key)
    except InvalidId:
        raise NotFound(f"No API key with id {key!r}") from None
    collection = ApiKey.get_pymongo_collection()
    await collection.update_one(
        {"_id": oid, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
    )
    stored = await ApiKey.get(oid)
    if stored is None:
        raise NotFound(f"No API key with id {key!r}")
    await end_sessions(key_id_of(stored.key_hash))
    details = {"name": stored.name, "role": stored.role.value}
    await audit.record(AuditAction.KEY_REVOKED, by, Target("apiKey", key), details)
    return stored


async def end_sessions(key_id: str) -> None:
    await SignInSession.get_pymongo_collection().delete_many({"key_id": key_id})


async def is_revoked(key_id: str) -> bool:
    """Whether the stored key of this id is revoked (a session opened as it was revoked)."""
    found = await ApiKey.get_pymongo_collection().find_one(
        {"key_hash": {"$regex": f"^{key_id}"}, "revoked_at": {"$ne": None}}, {"_id": 1}
    )
    return found is not None
