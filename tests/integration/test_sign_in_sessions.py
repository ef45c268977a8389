"""Sign-in sessions of the API: a key opens one, its token then acts with the key's name and
role until it expires or is closed; a session cannot open another (it would never end)."""

from __future__ import annotations


async def _open(api, headers) -> dict:
    response = await api.post("/auth/sessions", headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_session_acts_for_its_key_until_closed(api, database, admin_headers) -> None:
    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "Ida", "role": "importer"}
    )
    key_headers = {"Authorization": f"Bearer {created.json()['key']}"}
    opened = await _open(api, key_headers)
    assert opened["name"] == "Ida" and opened["role"] == "importer"
    assert opened["token"].startswith("bcus_")
    session = {"Authorization": f"Bearer {opened['token']}"}
    assert (await api.get("/auth/me", headers=session)).json() == {
        "name": "Ida",
        "role": "importer",
        "keyId": (await api.get("/auth/me", headers=key_headers)).json()["keyId"],
    }
    assert (
        await api.post("/api-keys", headers=session, json={"name": "x", "role": "admin"})
    ).status_code == 403
    stored = await database["sign_in_sessions"].find_one({})
    assert opened["token"] not in str(stored)  # only its hash is kept

    assert (await api.post("/auth/sessions", headers=session)).status_code == 403
    assert (await api.delete("/auth/sessions/current", headers=session)).status_code == 204
    ended = await api.get("/auth/me", headers=session)
    assert ended.status_code == 401
    assert ended.json()["detail"] == "Your session has ended; sign in again"
    assert (await api.get("/auth/me", headers=key_headers)).status_code == 200  # the key lives on


async def test_an_expired_session_is_refused(api, database, admin_headers) -> None:
    opened = await _open(api, admin_headers)
    session = {"Authorization": f"Bearer {opened['token']}"}
    await database["sign_in_sessions"].update_many(
        {}, [{"$set": {"expires_at": {"$subtract": ["$created_at", 1000]}}}]
    )
    assert (await api.get("/imports", headers=session)).status_code == 401
