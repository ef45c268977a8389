"""The API keys' life cycle (issue 25): listed without the key, revoked with its sessions,
the ADMIN_API_KEY key listed but governed by its setting."""

from __future__ import annotations

import httpx


async def _create(api: httpx.AsyncClient, headers: dict[str, str], role: str) -> dict[str, str]:
    created = await api.post("/api-keys", headers=headers, json={"name": f"a {role}", "role": role})
    assert created.status_code == 201, created.text
    body: dict[str, str] = created.json()
    return body


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_keys_are_listed_without_the_key_and_their_last_use(api, admin_headers) -> None:
    created = await _create(api, admin_headers, "importer")
    assert set(created) == {"id", "name", "role", "createdAt", "key"}
    listed = await api.get("/api-keys", headers=admin_headers)
    assert listed.status_code == 200
    assert created["key"] not in listed.text and "test-admin-key" not in listed.text
    admin, mine = listed.json()["items"]
    assert (admin["id"], admin["role"], admin["revokedAt"]) == ("ADMIN_API_KEY", "admin", None)
    assert set(mine) == {"id", "name", "role", "createdAt", "lastUsedAt", "revokedAt"}
    assert (mine["id"], mine["name"], mine["role"]) == (created["id"], "a importer", "importer")
    assert mine["lastUsedAt"] is None

    assert (await api.get("/imports", headers=_bearer(created["key"]))).status_code == 200
    again = (await api.get("/api-keys", headers=admin_headers)).json()["items"][1]
    assert again["lastUsedAt"] is not None
    for _ in range(3):  # within the minute: no further write
        assert (await api.get("/imports", headers=_bearer(created["key"]))).status_code == 200
    later = (await api.get("/api-keys", headers=admin_headers)).json()["items"][1]
    assert later["lastUsedAt"] == again["lastUsedAt"]


async def test_a_revoked_key_and_its_sessions_get_401_at_once(api, admin_headers) -> None:
    created = await _create(api, admin_headers, "viewer")
    key = _bearer(created["key"])
    opened = await api.post("/auth/sessions", headers=key)
    assert opened.status_code == 201
    session = _bearer(opened.json()["token"])
    assert (await api.get("/imports", headers=session)).status_code == 200

    revoked = await api.delete(f"/api-keys/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 204
    for headers in (key, session):
        assert (await api.get("/imports", headers=headers)).status_code == 401
    assert (await api.post("/auth/sessions", headers=key)).status_code == 401
    listed = (await api.get("/api-keys", headers=admin_headers)).json()["items"]
    revoked_at = next(k["revokedAt"] for k in listed if k["id"] == created["id"])
    assert revoked_at is not None
    again = await api.delete(f"/api-keys/{created['id']}", headers=admin_headers)
    assert again.status_code == 204
    listed = (await api.get("/api-keys", headers=admin_headers)).json()["items"]
    assert next(k["revokedAt"] for k in listed if k["id"] == created["id"]) == revoked_at
    trail = await api.get("/audit-events", headers=admin_headers, params={"action": "key.revoked"})
    [event] = trail.json()["items"]  # revoked twice, recorded once
    assert event["target"] == {"type": "apiKey", "id": created["id"]}
    assert event["actor"]["name"] == "admin"
    assert event["details"] == {"name": "a viewer", "role": "viewer"}
    assert created["key"] not in trail.text


async def test_the_setting_key_unknown_ids_and_other_roles_are_refused(api, admin_headers) -> None:
    response = await api.delete("/api-keys/ADMIN_API_KEY", headers=admin_headers)
    assert response.status_code == 409 and "setting" in response.json()["detail"]
    for unknown in ("0123456789abcdef01234567", "nope"):
        response = await api.delete(f"/api-keys/{unknown}", headers=admin_headers)
        assert response.status_code == 404
    importer = _bearer((await _create(api, admin_headers, "importer"))["key"])
    assert (await api.get("/api-keys", headers=importer)).status_code == 403
    assert (await api.delete("/api-keys/ADMIN_API_KEY", headers=importer)).status_code == 403
    assert (await api.get("/imports", headers=admin_headers)).status_code == 200
