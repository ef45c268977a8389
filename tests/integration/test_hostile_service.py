"""Hostile use of the service, each answered as documented: a key acting on others' imports
and schedules, guessed keys, bulk requests racing other writers or growing one customer past
what a document holds, a writer dying midway, and customer filters that read every customer.
(File-shaped hostility is in test_hostile_input.py; the UI's sign-in in test_hostile_sign_in.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import csv_bytes, import_form


async def _new_key(api: Any, admin_headers: dict[str, str], name: str, role: str) -> dict[str, str]:
    created = await api.post("/api-keys", headers=admin_headers, json={"name": name, "role": role})
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def test_only_an_admin_or_the_creator_may_act_on_an_import_or_a_schedule(
    api, database, admin_headers
) -> None:
    owner = await _new_key(api, admin_headers, "owner", "importer")
    other = await _new_key(api, admin_headers, "other", "importer")
    content = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"]])
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post("/imports", headers=owner, **import_form(content, config))
    job_id = created.json()["id"]
    # The job names its key as GET /auth/me does: the UI offers its actions to that key only.
    owner_key_id = (await api.get("/auth/me", headers=owner)).json()["keyId"]
    job = (await api.get(f"/imports/{job_id}", headers=owner)).json()
    assert job["createdByKeyId"] == owner_key_id
    assert (await api.get("/auth/me", headers=other)).json()["keyId"] != owner_key_id
    schedule = await api.post(
        "/schedules",
        headers=owner,
        json={
            "name": "nightly",
            "source": {"url": "http://127.0.0.1:9/c.csv"},
            "config": config,
            "cron": "0 2 * * *",
            "timezone": "UTC",
        },
    )
    schedule_id = schedule.json()["id"]
    attempts = [
        ("POST", f"/imports/{job_id}/cancel", {}, "import may cancel it"),
        ("POST", f"/imports/{job_id}/retry", import_form(content, config), "import may retry it"),
        ("POST", f"/imports/{job_id}/revert", {}, "import may revert it"),
        ("PATCH", f"/schedules/{schedule_id}", {"json": {"enabled": False}}, "may change it"),
        ("POST", f"/schedules/{schedule_id}/run", {}, "schedule may run it"),
        ("DELETE", f"/schedules/{schedule_id}", {}, "schedule may delete it"),
    ]
    for method, path, request, words in attempts:
        refused = await api.request(method, path, headers=other, **request)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"].startswith("Only an admin or the API key that created")
        assert words in refused.json()["detail"]
    # Nothing of the refused requests happened (a worker may have run the import meanwhile).
    status = (await api.get(f"/imports/{job_id}", headers=other)).json()["status"]
    assert status in {"pending", "in_progress", "completed"}
    assert await database["import_jobs"].count_documents({}) == 1

    # The owner may: cancelled, or refused only because it already completed.
    cancelled = await api.post(f"/imports/{job_id}/cancel", headers=owner)
    assert cancelled.status_code in {200, 409}, cancelled.text
    if cancelled.status_code == 409:
        assert (await api.get(f"/imports/{job_id}", headers=owner)).json()["status"] == "completed"
    deleted = await api.delete(f"/schedules/{schedule_id}", headers=admin_headers)
    assert deleted.status_code == 204, deleted.text


async def test_a_bulk_request_waits_for_another_writer_of_its_customer_instead_of_a_409(
    api, database, admin_headers
) -> None:
    """Another writer (older, live) holds the customer's email for 3 s: the request waits
    for it (BULK_WAIT_SECONDS) and is answered 200, not 409 with the writer's id."""
    from bson import ObjectId

    from store.customers import writers

    body = {"action": "update", "deduplicationKeys": ["email"]}
    first = {"firstName": "Cy", "email": "cy@example.com"}
    created = await api.post(
        "/customers/bulkCustomers", headers=admin_headers, json={**body, "customers": [first]}
    )
    assert created.json()["insertedCount"] == 1, created.text
    other = f"{ObjectId()}-bulk"
    await writers.hold(other, 60)
    await database["identifier_claims"].update_one(
        {"_id": "email:cy@example.com"}, {"$set": {"w": other}}
    )

    async def finish_later() -> None:
        await asyncio.sleep(3)
        await writers.finish(other)

    finishing = asyncio.create_task(finish_later())
    response = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={**body, "customers": [{**first, "city": "Lima"}]},
    )
    await finishing
    assert response.status_code == 200, response.text
    assert response.json()["updatedCount"] == 1
    customer = await database["customers"].find_one({})
    assert customer["attributes"]["city"] == "Lima"


async def test_failed_authentication_is_limited_per_client_address(database) -> None:
    """Wrong keys from one address: a burst, then 429 with Retry-After, and then even the
    right key is not checked from there; another address is not held back."""
    import uuid

    import httpx

    from api.app import close_limits, create_app
    from config import Settings

    settings = Settings(
        admin_api_key=f"auth-{uuid.uuid4().hex}", auth_failure_burst=3, auth_failures_per_minute=1
    )
    app = create_app(settings)
    right = {"Authorization": f"Bearer {settings.admin_api_key}"}
    wrong = {"Authorization": "Bearer guessed-key"}

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://api")

    guesser, other = f"guesser-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    async with client(guesser) as api, client(other) as other_api:
        statuses = [(await api.get("/imports", headers=wrong)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        refused = await api.get("/imports", headers=wrong)
        assert refused.status_code == 429, refused.text
        assert refused.json()["detail"].startswith("Too many failed sign-ins from your address")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await api.get("/imports", headers=right)).status_code == 429
        assert (await other_api.get("/imports", headers=right)).status_code == 200
        assert (await other_api.get("/imports", headers=wrong)).status_code == 401
    await close_limits(app.state)


async def test_a_customer_is_bounded_in_values_per_field_and_in_size(
    api, database, admin_headers, monkeypatch
) -> None:
    """Issue 19 item 6: 50,000 then 20,000 long emails appended to one customer made a
    document over 16 MB (500, claims held for a minute). Each request is refused customer
    by customer now, with the reason, and nothing of a refused customer is written."""
    from config import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "bulk_wait_seconds", 0.0)
    bulk = {"action": "append", "deduplicationKeys": ["phoneNumber"]}
    many = [f"user{n}@example.com" for n in range(101)]
    too_many = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={
            **bulk,
            "customers": [{"firstName": "Ann", "phoneNumber": "+12025550143", "email": many}],
        },
    )
    assert too_many.status_code == 200, too_many.text
    assert too_many.json()["rejectedCustomers"][0]["reason"] == (
        "Email would hold 101 values; a customer holds at most 100 per field"
    )
    assert await database["customers"].count_documents({}) == 0

    ann = {"firstName": "Ann", "phoneNumber": "+12025550143", "email": many[:60]}
    first = await api.post(
        "/customers/bulkCustomers", headers=admin_headers, json={**bulk, "customers": [ann]}
    )
    assert first.json()["insertedCount"] == 1, first.text
    more = {**ann, "email": many[60:]}  # 41 more: 101 in all
    appended = await api.post(
        "/customers/bulkCustomers", headers=admin_headers, json={**bulk, "customers": [more]}
    )
    assert appended.json()["rejectedCount"] == 1, appended.text
    assert "Email would hold 101 values" in appended.json()["rejectedCustomers"][0]["reason"]
    stored = await database["customers"].find_one({})
    assert stored["attributes"]["email"] == many[:60]
    # The refused values were never claimed: another customer may take them at once.
    bob = {"firstName": "Bob", "phoneNumber": "+14155550132", "email": many[100]}
    taken = await api.post(
        "/customers/bulkCustomers", headers=admin_headers, json={**bulk, "customers": [bob]}
    )
    assert taken.json()["insertedCount"] == 1, taken.text

    monkeypatch.setattr(settings, "max_customer_bytes", 2_000)
    big = {"firstName": "Cy", "phoneNumber": "+13125550178", "city": "x" * 3_000}
    refused = await api.post(
        "/customers/bulkCustomers", headers=admin_headers, json={**bulk, "customers": [big]}
    )
    reason = refused.json()["rejectedCustomers"][0]["reason"]
    assert reason.startswith("The customer would hold 3,"), reason
    assert reason.endswith("bytes of values; a customer holds at most 2,000")
    assert await database["customers"].count_documents({}) == 2


async def test_a_writer_that_fails_midway_holds_no_value_up(
    api, database, admin_headers, monkeypatch
) -> None:
    """A bulk request that dies after claiming its values (a 500): the next request for the
    same values goes ahead at once, not after the failed writer's lease (60 s)."""
    from config import get_settings
    from store.customers import writing

    monkeypatch.setattr(get_settings(), "bulk_wait_seconds", 0.0)
    real_insert = writing._insert

    async def insert_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the server went away")

    monkeypatch.setattr(writing, "_insert", insert_fails)
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [{"firstName": "Ann", "email": "ann@example.com"}],
    }
    failed = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    assert failed.status_code == 500
    assert await database["identifier_claims"].count_documents({}) == 1  # claimed, unwritten
    monkeypatch.setattr(writing, "_insert", real_insert)
    again = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    assert again.status_code == 200, again.text
    assert again.json()["insertedCount"] == 1


async def test_the_bulk_409_is_documented_with_retry_after(api) -> None:
    document = (await api.get("/docs/openapi.json")).json()
    answers = document["paths"]["/customers/bulkCustomers"]["post"]["responses"]
    for status in ("409", "429"):
        assert "Retry-After" in answers[status]["headers"], status
    assert "BULK_WAIT_SECONDS" in answers["409"]["description"]


async def test_a_list_filter_that_scans_too_long_is_a_400_with_advice(
    api, database, admin_headers, monkeypatch
) -> None:
    from config import get_settings

    await database["customers"].insert_many(
        [{"attributes": {"firstName": f"P{i}", "city": "Oslo"}, "rev": 1} for i in range(30_000)]
    )
    monkeypatch.setattr(get_settings(), "customer_scan_seconds", 0.001)
    monkeypatch.setattr(get_settings(), "customer_scan_max_customers", 50_000)
    response = await api.get("/customers", headers=admin_headers, params={"city": "Rome"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        "Listing customers by city reads every customer and took longer than 0.001 s; filter by "
        "a channel identifier (for example email or phoneNumber) as well"
    )


async def test_a_list_filter_over_more_customers_than_a_scan_may_read_is_refused(
    api, database, admin_headers, monkeypatch
) -> None:
    from config import get_settings

    await database["customers"].insert_many(
        [{"attributes": {"firstName": f"P{i}", "city": "Oslo"}, "rev": 1} for i in range(11)]
    )
    from store.customers import lookup

    monkeypatch.setattr(get_settings(), "customer_scan_max_customers", 10)
    response = await api.get("/customers", headers=admin_headers, params={"city": "Oslo"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        "Listing customers by city would read all 11 customers (a filter without a channel "
        "identifier reads at most 10); filter by a channel identifier (for example email or "
        "phoneNumber) as well"
    )
    monkeypatch.setattr(get_settings(), "customer_scan_max_customers", 11)
    assert lookup._held["count"] == 11
    allowed = await api.get("/customers", headers=admin_headers, params={"city": "Oslo"})
    assert allowed.json()["total"] == 11


async def test_customer_scans_run_a_few_at_a_time_per_key(database) -> None:
    """While a key's scan runs, its next one gets 429 with Retry-After; another key's scan,
    and the key's lookups by identifier, go ahead."""
    import uuid

    import httpx

    from api.app import close_limits, create_app
    from config import Settings
    from store.auth import hash_key

    settings = Settings(
        admin_api_key=f"scans-{uuid.uuid4().hex}",
        customer_scans_per_key=1,
        customer_scans_at_once=2,
    )
    app = create_app(settings)
    admin = {"Authorization": f"Bearer {settings.admin_api_key}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        created = await api.post("/api-keys", headers=admin, json={"name": "v", "role": "viewer"})
        viewer = {"Authorization": f"Bearer {created.json()['key']}"}
        by_city = {"city": "Oslo"}
        async with app.state.customer_scans.slot(hash_key(settings.admin_api_key)[:16]):
            refused = await api.get("/customers", headers=admin, params=by_city)
            assert refused.status_code == 429, refused.text
            assert "at most 1 at a time per API key and 2 in all" in refused.json()["detail"]
            assert int(refused.headers["Retry-After"]) >= 1
            assert (await api.get("/customers", headers=viewer, params=by_city)).status_code == 200
            by_email = {"email": "a@example.com", "city": "Oslo"}
            assert (await api.get("/customers", headers=admin, params=by_email)).status_code == 200
        assert (await api.get("/customers", headers=admin, params=by_city)).status_code == 200
    await close_limits(app.state)
