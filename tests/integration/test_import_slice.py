"""The first slice through real services: upload → job → worker batches → report."""

from __future__ import annotations

import hashlib

from tests.helpers import csv_bytes, import_form, summary_counts, wait_for_job

EXAMPLE = csv_bytes(
    ["firstName", "lastName", "email", "phoneNumber", "city"],
    [
        ["John", "Doe", "john@example.com", "+12025550143", "New York"],
        ["Jane", "Smith", "jane@example.com", "+14155550132", "Boston"],
    ],
)


async def test_health_reports_mongo_and_redis(api) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mongo": "ok", "redis": "ok"}


async def test_requests_without_a_valid_key_are_refused(api) -> None:
    assert (await api.get("/imports")).status_code == 401
    response = await api.get("/imports", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key"


async def test_documented_example_imports_through_the_workers(api, worker, admin_headers) -> None:
    config = {"recordType": "customers", "deduplicationKeys": ["email"], "action": "ignore"}
    response = await api.post("/imports", headers=admin_headers, **import_form(EXAMPLE, config))
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "pending"

    job = await wait_for_job(api, created["id"], admin_headers)
    assert job["status"] == "completed", job
    assert job["counts"] == {"total": 2, "imported": 2, "updated": 0, "ignored": 0, "failed": 0}
    assert job["progress"] == {"processedRows": 2, "totalRows": 2}

    report = await api.get(f"/imports/{created['id']}/report", headers=admin_headers)
    assert report.status_code == 200
    counts = summary_counts(report.content)
    assert (counts["Total Records"], counts["Imported"], counts["Failed"]) == (2, 2, 0)

    found = (
        await api.get("/customers", params={"email": "JOHN@example.com"}, headers=admin_headers)
    ).json()
    assert found["total"] == 1
    john = found["items"][0]
    assert (john["firstName"], john["city"], john["phoneNumber"]) == (
        "John",
        "New York",
        ["+12025550143"],
    )
    assert (await api.get(f"/customers/{john['id']}", headers=admin_headers)).json() == john


async def test_missing_mandatory_column_rejects_the_whole_file(api, admin_headers) -> None:
    content = csv_bytes(["lastName", "email"], [["Doe", "john@example.com"]])
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    response = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert response.status_code == 422
    assert response.json()["missingRequired"] == ["firstName"]
    assert "firstName" in response.json()["detail"]
    assert (await api.get("/imports", headers=admin_headers)).json()["total"] == 0


async def test_roles_limit_what_a_key_may_do(api, admin_headers) -> None:
    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "analyst", "role": "viewer"}
    )
    assert created.status_code == 201
    viewer = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get("/auth/me", headers=viewer)).json() == {
        "name": "analyst",
        "role": "viewer",
        "keyId": hashlib.sha256(created.json()["key"].encode()).hexdigest()[:16],
    }
    assert (await api.get("/imports", headers=viewer)).status_code == 200
    refused = await api.post(
        "/imports", headers=viewer, **import_form(EXAMPLE, {"deduplicationKeys": ["email"]})
    )
    assert refused.status_code == 403
    assert "importer" in refused.json()["detail"]
