"""Health of the parts the API depends on."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from config import get_settings
from store import db

TIMEOUT = 3.0


async def _mongo() -> str:
    await asyncio.wait_for(db.database().command("ping"), TIMEOUT)
    return "ok"


async def _redis() -> str:
    url = get_settings().redis_url
    if not url:
        return "error: REDIS_URL is not set"
    client = aioredis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "ok"


async def check() -> dict[str, str]:
    results = {}
    for name, probe in (("mongo", _mongo), ("redis", _redis)):
        try:
            results[name] = await probe()
        except Exception as error:  # any failure is reported, not raised
            results[name] = f"error: {type(error).__name__}"
    return results
