"""API keys and roles. The bootstrap admin key comes from ADMIN_API_KEY; more keys are
stored hashed in MongoDB."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from config import Settings
from domain.audit import AuditAction
from store import audit
from store.audit import Target
from store.documents import ApiKey, Role, SignInSession, utcnow
from store.errors import Unauthorized, UnknownKey
from store.principal import Principal

SESSION_TOKEN_PREFIX = "bcus_"  # tells a sign-in session's token from an API key


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


async def authenticate(authorization: str | None, settings: Settings) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <api key>'")
    key = authorization[7:].strip()
    # Compared as UTF-8 bytes: compare_digest refuses non-ASCII str (a key we never issue).
    given, admin = key.encode("utf-8", "surrogateescape"), settings.admin_api_key.encode()
    if settings.admin_api_key and hmac.compare_digest(given, admin):
        return Principal("admin", Role.ADMIN, hash_key(key)[:16])
    key_hash = hash_key(key)
    if key.startswith(SESSION_TOKEN_PREFIX):
        return await _session_principal(key)
    stored = await ApiKey.find_one(ApiKey.key_hash == key_hash)
    if stored is None:
        raise UnknownKey("Invalid API key")
    if stored.revoked_at is not None:
        raise UnknownKey("Invalid API key")  # revoked: told as any unknown key
    return Principal(stored.name, stored.role, key_hash[:16])


async def _session_principal(token: str) -> Principal:
    session = await SignInSession.get(hash_key(token))
    if session is None or session.expires_at <= utcnow():
        raise Unauthorized("Your session has ended; sign in again")
    return Principal(session.name, session.role, session.key_id, is_session=True)


async def create_key(name: str, role: Role, by: Principal) -> tuple[ApiKey, str]:
    """Store a new key and return it with its record; only its hash is kept."""
    key = secrets.token_urlsafe(24)
    stored = await ApiKey(key_hash=hash_key(key), name=name, role=role).insert()
    details = {"name": name, "role": role.value}
    await audit.record(AuditAction.KEY_CREATED, by, Target("apiKey", str(stored.id)), details)
    return stored, key
