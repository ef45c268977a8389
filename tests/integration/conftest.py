from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from stack.processes import start_redis, stop_all


@pytest.fixture
async def api(database: object) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process on the test's event loop and database (the `database` fixture
    has connected, so the app's startup hook is not needed); the broker is the real Redis."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as client:
        yield client


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own: the session's workers consume the shared one."""
    redis, url = start_redis(tmp_path / "redis", tmp_path / "redis.log")
    yield url
    stop_all([redis])
