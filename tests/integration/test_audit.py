"""The audit trail (DESIGN.md §8) through the real API and workers: each audited action makes
exactly one event naming its actor and target, a refused action makes none, only admins read
it, no route changes it, and no event holds a key, a session token or a webhook secret."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.audit import AuditAction
from store import mappings
from store.auth import hash_key
from tests.helpers import csv_bytes, held_import, import_form, wait_for_job

CONFIG = {"deduplicationKeys": ["email"], "action": "replace"}
FILE = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["", "bad"]])
SOURCE = {"url": "http://127.0.0.1:9/customers.csv?token=source-secret-token"}


async def events(api: httpx.AsyncClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    answer = await api.get("/audit-events", headers=headers, params={"limit": 500, **query})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def new_key(api: httpx.AsyncClient, admin: dict[str, str], role: str) -> str:
    created = await api.post("/api-keys", headers=admin, json={"name": f"Ida {role}", "role": role})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


async def test_each_action_makes_one_event_with_its_actor_and_target(
    api, database, worker, admin_headers
) -> None:
    admin_id = hash_key(os.environ["ADMIN_API_KEY"])[:16]
    key = await new_key(api, admin_headers, "importer")
    ida = {"Authorization": f"Bearer {key}"}
    ida_id = hash_key(key)[:16]
    viewer = {"Authorization": f"Bearer {await new_key(api, admin_headers, 'viewer')}"}

    opened = (await api.post("/auth/sessions", headers=ida)).json()
    session = {"Authorization": f"Bearer {opened['token']}"}
    created = await api.post("/imports", headers=session, **import_form(FILE, CONFIG))
    job = await wait_for_job(api, created.json()["id"], ida)
    assert (await api.delete("/auth/sessions/current", headers=session)).status_code == 204

    fixed = csv_bytes(["firstName", "email"], [["Bob", "bob@example.com"]])
    retried = await api.post(
        f"/imports/{job['id']}/retry", headers=ida, files={"file": ("fixed.csv", fixed)}
    )
    assert retried.status_code == 202, retried.text
    await wait_for_job(api, retried.json()["id"], ida)
    reverted = await api.post(f"/imports/{job['id']}/revert", headers=admin_headers)
    assert reverted.status_code == 202, reverted.text
    await wait_for_job(api, reverted.json()["id"], admin_headers)

    held_id, _ = await held_import(["firstName", "email"], [["Cy", "cy@example.com"]])
    assert (await api.post(f"/imports/{held_id}/cancel", headers=admin_headers)).is_success

    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    schema["attributes"][4]["label"] = "Town"  # city
    changed = await api.put("/record-types/customers/schema", headers=admin_headers, json=schema)
    assert changed.status_code == 200, changed.text

    await mappings.remember("customers", ["Mail", "Name"], {"Mail": "email"}, "admin")
    mapping_id = (await api.get("/mappings", headers=admin_headers)).json()["items"][0]["id"]
    assert (await api.delete(f"/mappings/{mapping_id}", headers=admin_headers)).is_success

    hook_body = {"url": "http://127.0.0.1:9/hook?token=hook-token", "events": ["import.failed"]}
    hook = (await api.post("/webhooks", headers=admin_headers, json=hook_body)).json()
    assert (await api.delete(f"/webhooks/{hook['id']}", headers=admin_headers)).is_success

    new_schedule = {"name": "Nightly", "source": SOURCE, "config": CONFIG, "cron": "0 2 * * *"}
    made = await api.post("/schedules", headers=ida, json={**new_schedule, "timezone": "UTC"})
    assert made.status_code == 201, made.text
    made = made.json()
    edit = await api.patch(f"/schedules/{made['id']}", headers=ida, json={"enabled": False})
    assert edit.status_code == 200, edit.text
    assert (await api.delete(f"/schedules/{made['id']}", headers=ida)).is_success

    # Refused actions: no event.
    assert (await api.post(f"/imports/{job['id']}/cancel", headers=ida)).status_code == 409
    no_key = await api.post("/api-keys", headers=viewer, json={"name": "x", "role": "admin"})
    assert no_key.status_code == 403
    assert (await api.delete("/mappings/nothing", headers=admin_headers)).status_code == 404

    trail = (await events(api, admin_headers))["items"]
    assert Counter(e["action"] for e in trail) == {
        "key.created": 2,
        "session.created": 1,
        "session.ended": 1,
        "import.created": 2,  # the import and the held one
        "import.retried": 1,
        "import.reverted": 1,
        "import.cancelled": 1,
        "schema.updated": 1,
        "mapping.deleted": 1,
        "webhook.created": 1,
        "webhook.deleted": 1,
        "schedule.created": 1,
        "schedule.updated": 1,
        "schedule.deleted": 1,
    }
    assert [e["at"] for e in trail] == sorted((e["at"] for e in trail), reverse=True)
    by_action = {e["action"]: e for e in trail}
    ida_actor = {"keyId": ida_id, "name": "Ida importer", "role": "importer"}
    admin_actor = {"keyId": admin_id, "name": "admin", "role": "admin"}
    expected = {
        "import.retried": (ida_actor, {"type": "import", "id": job["id"]}),
        "import.reverted": (admin_actor, {"type": "import", "id": job["id"]}),
        "import.cancelled": (admin_actor, {"type": "import", "id": held_id}),
        "schema.updated": (admin_actor, {"type": "schema", "id": "customers"}),
        "mapping.deleted": (admin_actor, {"type": "mapping", "id": mapping_id}),
        "webhook.created": (admin_actor, {"type": "webhook", "id": hook["id"]}),
        "webhook.deleted": (admin_actor, {"type": "webhook", "id": hook["id"]}),
        "schedule.created": (ida_actor, {"type": "schedule", "id": made["id"]}),
        "schedule.updated": (ida_actor, {"type": "schedule", "id": made["id"]}),
        "schedule.deleted": (ida_actor, {"type": "schedule", "id": made["id"]}),
    }
    for action, (actor, target) in expected.items():
        assert (by_action[action]["actor"], by_action[action]["target"]) == (actor, target)
    sessions = [by_action["session.created"], by_action["session.ended"]]
    assert [(e["actor"], e["target"]["type"]) for e in sessions] == [(ida_actor, "session")] * 2
    assert sessions[0]["target"] == sessions[1]["target"]
    assert by_action["import.retried"]["details"]["importId"] == retried.json()["id"]
    assert by_action["schema.updated"]["details"] == {
        "version": 2,
        "added": [],
        "removed": [],
        "changed": ["city"],
        "restoredFrom": None,
        "force": False,
    }
    assert by_action["schedule.updated"]["details"] == {"fields": ["enabled"]}
    created_events = [e for e in trail if e["action"] == "import.created"]
    assert {e["target"]["id"] for e in created_events} == {job["id"], held_id}
    mine = next(e for e in created_events if e["target"]["id"] == job["id"])
    assert mine["actor"] == ida_actor  # the session acts for its key
    assert {e["actor"]["keyId"] for e in trail if e["action"] == "key.created"} == {admin_id}

    text = json.dumps(trail)
    for secret in (key, opened["token"], hook["secret"], os.environ["ADMIN_API_KEY"]):
        assert secret not in text
    assert "hook-token" not in text and "source-secret-token" not in text


async def test_filters_paging_and_who_may_read(api, database, admin_headers) -> None:
    key = await new_key(api, admin_headers, "viewer")
    viewer = {"Authorization": f"Bearer {key}"}
    for _ in range(3):
        await new_key(api, admin_headers, "importer")
    await api.post("/auth/sessions", headers=viewer)

    assert (await api.get("/audit-events", headers=viewer)).status_code == 403
    assert (await api.get("/audit-events")).status_code == 401
    created = await events(api, admin_headers, action="key.created")
    assert created["total"] == 4 and {e["action"] for e in created["items"]} == {"key.created"}
    viewers = await events(api, admin_headers, actorKeyId=hash_key(key)[:16])
    assert [e["action"] for e in viewers["items"]] == ["session.created"]
    page = await events(api, admin_headers, limit=2, offset=1)
    assert page["total"] == 5 and len(page["items"]) == 2
    everything = (await events(api, admin_headers))["items"]
    assert page["items"] == everything[1:3]

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await events(api, admin_headers, **{"from": later}))["total"] == 0
    assert (await events(api, admin_headers, to=later))["total"] == 5
    bad = await api.get("/audit-events", headers=admin_headers, params={"action": "key.stolen"})
    assert bad.status_code == 400
    bad_date = await api.get("/audit-events", headers=admin_headers, params={"from": "yesterday"})
    assert bad_date.status_code == 400 and "from" in bad_date.json()["detail"]


async def test_no_route_changes_or_deletes_an_event(api, database, admin_headers) -> None:
    from api.app import create_app

    audit_routes = [r for r in create_app().routes if r.path.startswith("/audit-events")]
    assert audit_routes
    assert {m for r in audit_routes for m in r.methods} <= {"GET", "HEAD", "OPTIONS"}
    await new_key(api, admin_headers, "viewer")
    event = (await events(api, admin_headers))["items"][0]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/audit-events", f"/audit-events/{event['id']}"):
            answer = await api.request(method, path, headers=admin_headers)
            assert answer.status_code in (404, 405), (method, path, answer.status_code)
    assert (await events(api, admin_headers))["items"] == [event]


async def test_retention_deletes_only_events_past_it(database) -> None:
    from store import audit
    from store.documents import AuditEvent, Role
    from store.principal import Principal

    admin = Principal("admin", Role.ADMIN, "k")
    await audit.record(AuditAction.MAPPING_DELETED, admin, audit.Target("mapping", "old"))
    await audit.record(AuditAction.MAPPING_DELETED, admin, audit.Target("mapping", "new"))
    old = datetime.now(UTC) - timedelta(days=400)
    await AuditEvent.get_pymongo_collection().update_one(
        {"target_id": "old"}, {"$set": {"at": old}}
    )
    assert await audit.delete_expired(0) == 0  # 0 keeps them forever
    assert await audit.delete_expired(365) == 1
    assert [e.target_id for e in await AuditEvent.find_all().to_list()] == ["new"]


async def test_a_request_answered_twice_records_once(database) -> None:
    """An action taken over by a second answer (an Idempotency-Key takeover, a schedule's run
    delivered twice) records its event once."""
    from store import audit
    from store.documents import AuditEvent, Role
    from store.principal import Principal

    admin = Principal("admin", Role.ADMIN, "k")
    for _ in range(2):
        await audit.record(AuditAction.IMPORT_CANCELLED, admin, audit.Target("import", "j"))
    assert await AuditEvent.find_all().count() == 1
