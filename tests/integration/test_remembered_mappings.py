"""Remembered mappings through the real API: a mapping a person adjusted comes back for a file
with the same headers, and admins list and delete them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import csv_bytes, import_form, wait_for_job

HEADER = ["Vorname", "Kontakt", "Ort", "Notiz"]
ROW = ["Ann", "ann@example.com", "Bonn", "call her"]
ADJUSTED = {"Vorname": "firstName", "Kontakt": "email", "Ort": "city", "Notiz": None}


async def suggestion(
    api: httpx.AsyncClient, headers: dict[str, str], header: list[str], row: list[str]
) -> dict[str, dict[str, Any]]:
    response = await api.post(
        "/imports/mapping",
        headers=headers,
        files={"file": ("people.csv", csv_bytes(header, [row]), "text/csv")},
    )
    assert response.status_code == 200, response.text
    return {c["column"]: c for c in response.json()["columns"]}


async def test_an_adjusted_mapping_comes_back_for_the_same_headers_in_another_order(
    api, database, worker, admin_headers
) -> None:
    before = await suggestion(api, admin_headers, HEADER, ROW)
    assert before["Kontakt"]["method"] != "remembered"
    config = {"deduplicationKeys": ["email"], "mapping": ADJUSTED}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(HEADER, [ROW]), config)
    )
    assert (await wait_for_job(api, created.json()["id"], admin_headers))["status"] == "completed"

    reordered = ["  notiz", "ORT", "kontakt ", "Vor name"]
    again = await suggestion(api, admin_headers, reordered, ["x", "Bonn", "b@example.com", "Bo"])

    assert {c: (s["field"], s["method"]) for c, s in again.items()} == {
        "notiz": (None, "remembered"),  # headers are read trimmed
        "ORT": ("city", "remembered"),
        "kontakt": ("email", "remembered"),
        "Vor name": ("firstName", "remembered"),
    }
    nearly = await suggestion(api, admin_headers, [*HEADER, "Extra"], [*ROW, "y"])
    assert nearly["Kontakt"]["method"] == "remembered"
    assert nearly["Extra"]["method"] != "remembered"


async def test_admins_list_and_delete_remembered_mappings(
    api, database, worker, admin_headers
) -> None:
    config = {"deduplicationKeys": ["email"], "mapping": ADJUSTED, "dryRun": True}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(HEADER, [ROW]), config)
    )
    assert created.status_code == 202, created.text
    listed = (await api.get("/mappings", headers=admin_headers)).json()
    assert listed["total"] == 1
    remembered = listed["items"][0]
    assert (remembered["recordType"], remembered["headers"]) == ("customers", HEADER)
    assert remembered["mapping"] == ADJUSTED
    assert remembered["createdBy"] == "admin"

    importer = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "clerk", "role": "importer"}
    )
    clerk = {"Authorization": f"Bearer {importer.json()['key']}"}
    assert (await api.get("/mappings", headers=clerk)).status_code == 403
    assert (await api.delete(f"/mappings/{remembered['id']}", headers=clerk)).status_code == 403

    deleted = await api.delete(f"/mappings/{remembered['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    assert (await api.get("/mappings", headers=admin_headers)).json()["total"] == 0
    again = await api.delete(f"/mappings/{remembered['id']}", headers=admin_headers)
    assert again.status_code == 404
    assert "No remembered mapping" in again.json()["detail"]
    assert (await suggestion(api, admin_headers, HEADER, ROW))["Kontakt"]["method"] != "remembered"


async def test_a_mapping_taken_as_suggested_is_not_remembered(
    api, database, worker, admin_headers
) -> None:
    header, row = ["firstName", "email"], ["Ann", "ann@example.com"]
    suggested = await suggestion(api, admin_headers, header, row)
    mapping = {column: s["field"] for column, s in suggested.items()}
    config = {"deduplicationKeys": ["email"], "mapping": mapping}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(header, [row]), config)
    )
    await wait_for_job(api, created.json()["id"], admin_headers)
    assert (await api.get("/mappings", headers=admin_headers)).json()["total"] == 0
