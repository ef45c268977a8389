"""Opening and closing sign-in sessions of the UI: a random token standing for an API key for
a bounded time (store.auth accepts it). Only the token's hash is stored; closing deletes it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from domain.audit import AuditAction
from store import audit, keys
from store.audit import Target
from store.auth import SESSION_TOKEN_PREFIX, hash_key
from store.documents import SignInSession, utcnow
from store.errors import Forbidden, Unauthorized
from store.principal import Principal


async def open_session(principal: Principal, hours: float) -> tuple[str, SignInSession]:
    if principal.is_session:
        raise Forbidden("Sign in with an API key; a session cannot open another session")
    token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = SignInSession(
        id=hash_key(token),
        name=principal.name,
        role=principal.role,
        key_id=principal.key_id,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    await session.insert()
    if await keys.is_revoked(principal.key_id):  # revoked while this was opened
        await session.delete()
        raise Unauthorized("Invalid API key")
    await audit.record(AuditAction.SESSION_CREATED, principal, _target(session.id))
    return token, session


async def close_session(token: str, by: Principal) -> None:
    session_id = hash_key(token)
    ended = await SignInSession.get_pymongo_collection().delete_one({"_id": session_id})
    if ended.deleted_count:
        await audit.record(AuditAction.SESSION_ENDED, by, _target(session_id))


def _target(session_id: str) -> Target:
    """A session in the audit trail: a prefix of its token's hash, as keys are named."""
    return Target("session", session_id[:16])
