"""GET /customers/{id}/history (DESIGN.md §8) through the real API and workers: a customer
imported, updated by a replace, and the replace reverted has three entries, newest first,
each with the fields it changed; `lastImportId` names the import that wrote it last."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import csv_bytes, import_form, wait_for_job

HEADER = ["firstName", "email", "city", "labels"]


async def imported(api: httpx.AsyncClient, headers: dict[str, str], row: list[str], action: str):
    config = {"deduplicationKeys": ["email"], "action": action}
    created = await api.post(
        "/imports", headers=headers, **import_form(csv_bytes(HEADER, [row]), config)
    )
    assert created.status_code == 202, created.text
    return await wait_for_job(api, created.json()["id"], headers)


async def customer(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    found = await api.get("/customers", headers=headers, params={"email": "ann@example.com"})
    (item,) = found.json()["items"]
    one = await api.get(f"/customers/{item['id']}", headers=headers)
    body: dict[str, Any] = one.json()
    return body


def changes(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["before"], c["after"]) for c in entry["changes"]}


async def test_imported_replaced_and_reverted_is_three_entries_newest_first(
    api, database, worker, admin_headers
) -> None:
    ann_row = ["Ann", "ann@example.com", "Boston", "vip"]
    first = await imported(api, admin_headers, ann_row, "ignore")
    assert first["counts"]["imported"] == 1
    ann = await customer(api, admin_headers)
    assert ann["lastImportId"] == first["id"]
    second = await imported(api, admin_headers, ["Ann", "ann@example.com", "Denver", ""], "replace")
    assert second["counts"]["updated"] == 1
    assert (await customer(api, admin_headers))["lastImportId"] == second["id"]
    reverted = await api.post(f"/imports/{second['id']}/revert", headers=admin_headers)
    revert = await wait_for_job(api, reverted.json()["id"], admin_headers)
    assert revert["status"] == "completed"

    new_key = {"name": "v", "role": "viewer"}
    created = await api.post("/api-keys", headers=admin_headers, json=new_key)
    viewer = {"Authorization": f"Bearer {created.json()['key']}"}
    answer = await api.get(f"/customers/{ann['id']}/history", headers=viewer)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(e["kind"], e["importId"], e["action"], e["outcome"]) for e in items] == [
        ("revert", revert["id"], "revert", "restored"),
        ("import", second["id"], "replace", "updated"),
        ("import", first["id"], "ignore", "imported"),
    ]
    assert items[0]["revertOf"] == second["id"]
    assert changes(items[0]) == {"city": ("Denver", "Boston"), "labels": (None, ["vip"])}
    assert changes(items[1]) == {"city": ("Boston", "Denver"), "labels": (["vip"], None)}
    assert changes(items[2]) == {
        "firstName": (None, "Ann"),
        "email": (None, ["ann@example.com"]),
        "city": (None, "Boston"),
        "labels": (None, ["vip"]),
    }
    assert items[0]["at"] >= items[1]["at"] >= items[2]["at"]
    assert (await customer(api, admin_headers))["lastImportId"] == first["id"]


async def test_an_unknown_customer_has_no_history(api, database, admin_headers) -> None:
    for customer_id in ("6b12d1830a712bb40b218128", "not-an-id"):
        answer = await api.get(f"/customers/{customer_id}/history", headers=admin_headers)
        assert answer.status_code == 404
        assert customer_id in answer.json()["detail"]
