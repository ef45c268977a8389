"""Test harness: a private MongoDB-wire server (SecantusDB) and redis-server on free ports,
started before collection (modules read REDIS_URL at import), unless MONGODB_URL /
REDIS_URL are given, and an S3-wire server (moto's server mode, a real process speaking the
S3 protocol) for S3 sources. Each test that asks for `database` gets an empty database.
Webhooks and URL sources of the tests are on loopback: OUTBOUND_ALLOW_PRIVATE is true
(tests of the refusal use settings of their own)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from stack.processes import (
    Child,
    free_port,
    s3_child,
    start_mongo,
    start_redis,
    stop_all,
    wait_for_port,
)
from tests.helpers import start_api, start_worker

_started: list[Child] = []
_workdir = Path(tempfile.mkdtemp(prefix="bcu-tests-"))
TEST_DATABASE = "bcu_test"


def _xdist_controller(config: pytest.Config) -> bool:
    """Under `pytest -n N` (as `make test` runs), the process that hands tests to the N
    worker processes and runs none itself: each worker starts its own servers."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _xdist_controller(config):
        return
    s3_port = free_port()  # started first: it boots while the others do
    s3 = s3_child(s3_port, _workdir / "s3.log").start()
    _started.append(s3)
    if not os.environ.get("MONGODB_URL"):
        mongo, os.environ["MONGODB_URL"] = start_mongo(
            _workdir / "mongodb", _workdir / "mongodb.log"
        )
        _started.append(mongo)
    if not os.environ.get("REDIS_URL"):
        redis, os.environ["REDIS_URL"] = start_redis(_workdir / "redis", _workdir / "redis.log")
        _started.append(redis)
    os.environ["MONGODB_DATABASE"] = TEST_DATABASE
    os.environ.setdefault("ADMIN_API_KEY", "test-admin-key")
    # Every in-process request comes from one address: tests of wrong keys would otherwise
    # use up its failures. The tests of that limit set their own.
    os.environ.setdefault("AUTH_FAILURE_BURST", "100000")
    os.environ["OUTBOUND_ALLOW_PRIVATE"] = "true"
    wait_for_port(s3_port, proc=s3.proc)
    os.environ["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{s3_port}"
    os.environ["AWS_ACCESS_KEY_ID"] = "test-key"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "test-secret"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all(_started)
    if exitstatus == 0:
        shutil.rmtree(_workdir, ignore_errors=True)
    else:  # the services' and workers' logs tell why
        print(f"\nservice and worker logs kept in {_workdir}")


@pytest.fixture(scope="session")
def workdir() -> Path:
    return _workdir


async def _fresh(client: AsyncMongoClient, database: object) -> None:  # type: ignore[type-arg]
    """Empty the test database and set it up again (documents bound, indexes, default
    schemas). This session's event loop stands still while synchronous tests run, for minutes
    at times; a connection lost meanwhile fails the command running at that moment
    (AutoReconnect): a few tries of the whole sequence absorb it (each step is idempotent).
    The clients' polling monitor (store.db) no longer cancels commands after a stand-still."""
    from store import db
    from store.customers import lookup

    for attempt in range(1, 4):
        try:
            await client.admin.command("ping")
            await client.drop_database(TEST_DATABASE)
            lookup.forget_customers_held()
            await db.initialise(database)  # type: ignore[arg-type]
            return
        except AutoReconnect:
            if attempt == 3:
                raise
            await asyncio.sleep(0.5)


@pytest.fixture
async def database() -> AsyncIterator[object]:
    """An empty database with the documents bound and the default schema in place."""
    from config import get_settings
    from store import db

    database = await db.connect(get_settings())
    await _fresh(db.client(), database)
    yield database


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}


@pytest.fixture(scope="session")
def worker_env() -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture(scope="session")
def worker(workdir: Path, worker_env: dict[str, str]) -> Iterator[Child]:
    """A real Dramatiq worker process (two worker processes) on the test Redis and Mongo."""
    child = start_worker(worker_env, workdir / "worker.log")
    yield child
    stop_all([child])


@pytest.fixture(scope="session")
def api_server(workdir: Path, worker_env: dict[str, str]) -> Iterator[str]:
    """The API as a real uvicorn process on the test services; yields its base URL."""
    child, url = start_api(worker_env, workdir / "api.log")
    yield url
    stop_all([child])


@pytest.fixture(scope="session")
def sync_db() -> Iterator[object]:
    """A synchronous PyMongo handle on the test database, for tests that drive real
    processes from plain (non-async) code such as hypothesis tests."""
    from pymongo import MongoClient

    from config import get_settings

    client: MongoClient[dict[str, object]] = MongoClient(
        os.environ["MONGODB_URL"],
        tz_aware=True,
        maxIdleTimeMS=int(get_settings().mongodb_max_idle_seconds * 1000),
    )
    yield client[TEST_DATABASE]
    client.close()
