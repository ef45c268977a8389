"""The limits that keep one client from slowing the service for the others: a per-key
request rate (429 with Retry-After, other keys unaffected), running imports per key, and
OPTIONS answering each path's methods. Each test builds the app with its own settings, on
the real MongoDB and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from config import Settings
from tests.helpers import csv_bytes, import_form


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import close_limits, create_app

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as client:
        yield client
    await close_limits(app.state)


def _settings(**limits: Any) -> Settings:
    # A fresh admin key per test: the rate buckets live in Redis across tests.
    return Settings(admin_api_key=f"limits-{uuid.uuid4().hex}", **limits)


@pytest.fixture
async def limited(database: object) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = _settings(rate_limit_per_second=0.5, rate_limit_burst=3)
    async for client in _client(settings):
        yield client, {"Authorization": f"Bearer {settings.admin_api_key}"}


async def test_a_key_over_its_rate_gets_429_with_retry_after(limited) -> None:
    client, headers = limited
    statuses = [(await client.get("/imports", headers=headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # the burst
    refused = await client.get("/imports", headers=headers)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many requests for this API key" in refused.json()["detail"]
    # The public health check is never limited.
    assert (await client.get("/health")).status_code == 200


async def test_a_second_key_is_not_held_back_by_the_first(database) -> None:
    settings = _settings(rate_limit_per_second=0.5, rate_limit_burst=2)
    async for client in _client(settings):
        admin = {"Authorization": f"Bearer {settings.admin_api_key}"}
        created = await client.post(
            "/api-keys", headers=admin, json={"name": "v", "role": "viewer"}
        )
        viewer = {"Authorization": f"Bearer {created.json()['key']}"}
        assert (await client.get("/imports", headers=admin)).status_code == 200
        assert (await client.get("/imports", headers=admin)).status_code == 429
        assert (await client.get("/imports", headers=viewer)).status_code == 200


async def test_running_imports_per_key_are_capped_before_the_file_is_read(database) -> None:
    from store.documents import ImportJob, JobStatus

    settings = _settings(max_running_imports_per_key=2)
    for status in (JobStatus.PENDING, JobStatus.IN_PROGRESS):  # two of this key's, running
        await ImportJob(
            status=status,
            file_name="a.csv",
            file_id=None,
            action="ignore",
            deduplication_keys=["email"],
            mapping={},
            header=[],
            schema_attributes=[],
            created_by="admin",
        ).insert()
    async for client in _client(settings):
        headers = {"Authorization": f"Bearer {settings.admin_api_key}"}
        form = import_form(
            csv_bytes(["firstName", "email"], [["Ann", "a@example.com"]]),
            {"deduplicationKeys": ["email"]},
        )
        refused = await client.post("/imports", headers=headers, **form)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "30"
        assert "2 imports pending or running" in refused.json()["detail"]
        assert await database["import_jobs"].count_documents({}) == 2
        assert await database["uploads.files"].count_documents({}) == 0
        # Once one has finished, the key may start another.
        await database["import_jobs"].update_one({}, {"$set": {"status": "completed"}})
        assert (await client.post("/imports", headers=headers, **form)).status_code == 202


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/imports", "GET, OPTIONS, POST"),
        ("/record-types/customers/schema", "GET, OPTIONS, PUT"),
        ("/customers/bulkCustomers", "OPTIONS, POST"),
        ("/imports/abc/report", "GET, OPTIONS"),
    ],
)
async def test_options_lists_every_method_of_the_path(api, path, allow) -> None:
    response = await api.options(path)
    assert response.status_code == 204
    assert response.headers["Allow"] == allow


async def test_a_file_over_the_row_limit_is_refused_whole(database) -> None:
    settings = _settings(max_rows=3)
    async for client in _client(settings):
        headers = {"Authorization": f"Bearer {settings.admin_api_key}"}
        rows = [[f"N{i}", f"n{i}@example.com"] for i in range(5)]
        form = import_form(
            csv_bytes(["firstName", "email"], rows), {"deduplicationKeys": ["email"]}
        )
        refused = await client.post("/imports", headers=headers, **form)
        assert refused.status_code == 422, refused.text
        assert "more than 3 rows" in refused.json()["detail"]
        assert await database["import_jobs"].count_documents({}) == 0
        assert await database["uploads.files"].count_documents({}) == 0
        exactly = import_form(
            csv_bytes(["firstName", "email"], rows[:3]), {"deduplicationKeys": ["email"]}
        )
        assert (await client.post("/imports", headers=headers, **exactly)).status_code == 202
