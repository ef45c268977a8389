"""Token buckets in Redis, shared by every API process: the per-key request rate limit, and
the limit on failed authentication per client address. One script call per request; Redis's
own clock, so API hosts need not agree."""

from __future__ import annotations

import logging
import math

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
