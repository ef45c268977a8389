"""Connecting to MongoDB and initialising Beanie, once per process and event loop."""

from __future__ import annotations

import asyncio

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from config import Settings
from store.documents import DOCUMENT_MODELS
from store.fair_pool import FairPool

DEFAULT_CONNECTIONS = 100  # PyMongo's own default
SOCKET_TIMEOUT_MS = 30_000  # above any one command's own time (scans stop at 10 s)
_client: AsyncMongoClient | None = None  # type: ignore[type-arg]
_database: AsyncDatabase | None = None  # type: ignore[type-arg]
_lock = asyncio.Lock()


async def connect(settings: Settings, commands_at_once: int | None = None) -> AsyncDatabase:  # type: ignore[type-arg]
    """Initialise Beanie on the running loop (idempotent) and return the database.
    `commands_at_once`: the most commands the process has in flight (its connections;
    PyMongo's default, 100, when None), decided by the first call."""
    global _client, _database
    async with _lock:
        if _database is None:
            _client = new_client(settings, commands_at_once)
            database = _client[settings.mongodb_database]
            await initialise(database)
            _database = database
        return _database


def new_client(settings: Settings, commands_at_once: int | None = None) -> AsyncMongoClient:  # type: ignore[type-arg]
    if not settings.mongodb_url:
        raise RuntimeError("MONGODB_URL is not set")
    return AsyncMongoClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        # A reply that never comes (the server restarted under a request) raises
        # instead of holding the step, and its renewed lease, forever.
        socketTimeoutMS=SOCKET_TIMEOUT_MS,
        # A server that closed an idle connection is only noticed by the async driver when
        # the next command on it fails (AutoReconnect, a 500 after a quiet spell).
        maxIdleTimeMS=int(settings.mongodb_max_idle_seconds * 1000),
        # The monitor asks the server how it is every heartbeat rather than keeping a reply
        # awaited: an awaited reply outlives its deadline whenever the event loop stands
        # still longer than that (a laptop asleep under `make run`, a paused container, the
        # test session between two async tests), and the driver then cancels every command
        # in flight on the loop's return (tests/integration/test_idle_connections.py).
        serverMonitoringMode="poll",
        maxPoolSize=commands_at_once or DEFAULT_CONNECTIONS,
        # Connections in the order they were asked for (see store.fair_pool).
        _pool_class=FairPool,
    )


async def initialise(database: AsyncDatabase) -> None:  # type: ignore[type-arg]
    """Bind the documents, create their indexes and the default schemas (idempotent)."""
    from store.customers import writers
    from store.schemas import ensure_default_schemas

    await init_beanie(database=database, document_models=DOCUMENT_MODELS)
    await writers.create_indexes()
    await ensure_default_schemas()


def client() -> AsyncMongoClient:  # type: ignore[type-arg]
    if _client is None:
        raise RuntimeError("store.db.connect() has not run")
    return _client


def database() -> AsyncDatabase:  # type: ignore[type-arg]
    if _database is None:
        raise RuntimeError("store.db.connect() has not run")
    return _database


async def disconnect() -> None:
    global _client, _database
    if _client is not None:
        await _client.close()
    _client, _database = None, None
