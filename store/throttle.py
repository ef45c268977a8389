"""The per-key request rate limit: a token bucket per API key in Redis, shared by every API
process. One script call per request; Redis's own clock, so API hosts need not agree."""

from __future__ import annotations

import logging
import math

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from store.errors import TooManyRequests

log = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV: tokens per second, bucket size. Returns the seconds to wait
# (0 when the request may go ahead, and then it has taken its token).
_TAKE_TOKEN = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'at', 'tokens')
local tokens = tonumber(state[2]) or burst
local at = tonumber(state[1]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
  return tostring((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'at', tostring(now), 'tokens', tostring(tokens - 1))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return '0'
"""


class RateLimiter:
    def __init__(self, redis_url: str, per_second: float, burst: int) -> None:
        self._client = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE_TOKEN)
        self._per_second = per_second
        self._burst = burst

    async def take(self, key_id: str) -> None:
        """Take one request from the key's bucket; TooManyRequests when it is empty. If Redis
        cannot answer, the request goes ahead: the limit protects the service, and refusing
        every client because the limiter is down would do the opposite."""
        try:
            wait = float(
                await self._take(keys=[f"bcu:rate:{key_id}"], args=[self._per_second, self._burst])
            )
        except RedisError as error:
            log.warning("rate limit not applied, Redis did not answer: %s", error)
            return
        if wait > 0:
            raise TooManyRequests(
                f"Too many requests for this API key: at most {self._per_second:g} a second "
                f"(bursts of {self._burst}); retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )

    async def close(self) -> None:
        await self._client.aclose()
