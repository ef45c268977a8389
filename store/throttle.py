"""Limits kept in Redis, shared by every API process: token buckets for the per-key request
rate and for failed authentication per client address, and slots for the customer filters
that read every customer. One script call per request; Redis's
own clock, so API hosts need not agree."""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from store.errors import TooManyRequests

log = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV: tokens per second, bucket size, tokens to take (0: only look).
# Returns the seconds to wait (0 when the request may go ahead, and then it has taken its
# tokens).
_TAKE_TOKEN = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'at', 'tokens')
local tokens = tonumber(state[2]) or burst
local at = tonumber(state[1]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
  return tostring((1 - tokens) / rate)
end
if cost > 0 then
  redis.call('HSET', KEYS[1], 'at', tostring(now), 'tokens', tostring(tokens - cost))
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
end
return '0'
"""


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `per_second`, one per name, under `prefix`."""

    def __init__(self, redis_url: str, prefix: str, per_second: float, burst: int) -> None:
        self._client = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE_TOKEN)
        self._prefix = prefix
        self.per_second = per_second
        self.burst = burst

    async def wait(self, name: str, take: bool = True) -> float:
        """Seconds until `name`'s bucket has a token (0: it has one, and took it when
        `take`). If Redis cannot answer, 0: the limits protect the service, and refusing
        every client because the limiter is down would do the opposite."""
        keys, args = [f"{self._prefix}:{name}"], [self.per_second, self.burst, int(take)]
        try:
            return float(await self._take(keys=keys, args=args))
        except RedisError as error:
            log.warning("limit %s not applied, Redis did not answer: %s", self._prefix, error)
            return 0.0

    async def close(self) -> None:
        await self._client.aclose()


class RateLimiter(TokenBuckets):
    """Requests per API key."""

    def __init__(self, redis_url: str, per_second: float, burst: int) -> None:
        super().__init__(redis_url, "bcu:rate", per_second, burst)

    async def take(self, key_id: str) -> None:
        """Take one request from the key's bucket; TooManyRequests when it is empty."""
        wait = await self.wait(key_id)
        if wait > 0:
            raise TooManyRequests(
                f"Too many requests for this API key: at most {self.per_second:g} a second "
                f"(bursts of {self.burst}); retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )


class FailedAuthentication(TokenBuckets):
    """Failed authentication (an unknown API key) per client address: someone guessing keys
    gets 429 however many keys they try, before any of them is checked."""

    def __init__(self, redis_url: str, per_minute: float, burst: int) -> None:
        super().__init__(redis_url, "bcu:auth-failures", per_minute / 60, burst)

    async def check(self, address: str) -> None:
        """TooManyRequests while the address has no failure left."""
        self._refuse(await self.wait(address, take=False))

    async def failed(self, address: str) -> None:
        """Count a failure; TooManyRequests when it was one too many."""
        self._refuse(await self.wait(address))

    def _refuse(self, wait: float) -> None:
        if wait > 0:
            raise TooManyRequests(
                f"Too many failed sign-ins from your address: at most {self.burst} in a row, "
                f"then {self.per_second * 60:g} a minute; retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )


# KEYS: the key's slots, everyone's slots (sorted sets: slot -> expiry). ARGV: slot name,
# the key's limit, everyone's limit, seconds a slot is held at most. Returns 0 when the slot
# was taken, else the seconds until the first slot in the way expires.
_TAKE_SLOT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= limits[i] then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tostring(math.max(1, tonumber(first[2]) - now))
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[4])) + 1)
end
return '0'
"""


class ScanSlots:
    """How many customer filters that read every customer (no identifier to go by) run at a
    time, per API key and in all: shared by API processes in Redis. A slot an API process
    never gave back (it died) lapses after `hold_seconds`."""

    def __init__(self, redis_url: str, per_key: int, at_once: int, hold_seconds: float) -> None:
        self._client = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE_SLOT)
        self.per_key, self.at_once, self._hold = per_key, at_once, hold_seconds

    @asynccontextmanager
    async def slot(self, key_id: str) -> AsyncIterator[None]:
        """Hold a slot while the body runs; TooManyRequests when none is free."""
        keys = [f"bcu:scans:{key_id}", "bcu:scans"]
        name = secrets.token_hex(8)
        try:
            wait = float(
                await self._take(keys=keys, args=[name, self.per_key, self.at_once, self._hold])
            )
        except RedisError as error:
            log.warning("scan limit not applied, Redis did not answer: %s", error)
            wait, keys = 0.0, []
        if wait > 0:
            raise TooManyRequests(
                "Filters on attributes that are not channel identifiers read every customer: "
                f"at most {self.per_key} at a time per API key and {self.at_once} in all run "
                f"at once; retry in {math.ceil(wait)} s, or filter by a channel identifier "
                "(for example email or phoneNumber)",
                retry_after=math.ceil(wait),
            )
        try:
            yield
        finally:
            for key in keys:
                with contextlib.suppress(RedisError):
                    await self._client.zrem(key, name)

    async def close(self) -> None:
        await self._client.aclose()
