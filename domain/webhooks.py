"""Webhooks as the Standard Webhooks specification has them: the events, the signature, and
the retry schedule of a delivery. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64
EVENTS = ("import.completed", "import.failed", "import.cancelled", "import.reverted")
TEST_EVENT = "webhook.test"
# Waits between attempts, after the first: the specification's suggested schedule (about
# 27.6 hours in all, so a receiver down for a day still gets the message); after the last
# one fails the delivery is `failed`.
RETRY_WAITS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
ATTEMPT_TIMEOUT_SECONDS = 10.0  # no answer within this is a failed attempt


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret: its base64-decoded part."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
    "{id}.{timestamp}.{body}"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def wait_after(attempts: int) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt; None: give up."""
    return RETRY_WAITS[attempts - 1] if 1 <= attempts <= len(RETRY_WAITS) else None
