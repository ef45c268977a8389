"""The product documentation's examples of the four actions, against the real database,
through both the import pipeline (real workers) and the synchronous bulk endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import csv_bytes, import_form, wait_for_job

PHONE_1, PHONE_2 = "+12025550143", "+14155550132"
NEW_YORK = {
    "firstName": "John",
    "lastName": "Doe",
    "email": ["john@example.com"],
    "phoneNumber": [PHONE_1],
    "city": "New York",
}


@dataclass(frozen=True)
class Example:
    name: str
    existing: dict[str, Any]
    row: dict[str, str]
    action: str
    keys: list[str]
    outcome: str
    expected: dict[str, Any]


EXAMPLES = [
    Example(
        "replace: Boston overwrites New York",
        NEW_YORK,
        {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "phoneNumber": PHONE_1,
            "city": "Boston",
        },
        "replace",
        ["email"],
        "updated",
        {**NEW_YORK, "city": "Boston"},
    ),
    Example(
        "replace: fields the row does not provide are removed",
        {**NEW_YORK, "labels": ["vip"]},
        {"firstName": "John", "email": "john@example.com", "city": "Boston"},
        "replace",
        ["email"],
        "updated",
        {"firstName": "John", "email": ["john@example.com"], "city": "Boston"},
    ),
    Example(
        "update: the missing email is added, New York stays",
        {k: v for k, v in NEW_YORK.items() if k != "email"},
        {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "phoneNumber": PHONE_1,
            "city": "Boston",
        },
        "update",
        ["phoneNumber"],
        "updated",
        NEW_YORK,
    ),
    Example(
        "append: the phone list grows and city is replaced",
        NEW_YORK,
        {
            "firstName": "John",
            "email": "john@example.com",
            "phoneNumber": PHONE_2,
            "city": "Boston",
        },
        "append",
        ["email"],
        "updated",
        {**NEW_YORK, "phoneNumber": [PHONE_1, PHONE_2], "city": "Boston"},
    ),
    Example(
        "append: a value already present is not repeated",
        NEW_YORK,
        {"firstName": "John", "email": "JOHN@example.com", "phoneNumber": PHONE_1},
        "append",
        ["email"],
        "updated",
        NEW_YORK,
    ),
    Example(
        "ignore: the profile is untouched",
        NEW_YORK,
        {"firstName": "Johnny", "email": "john@example.com", "city": "Boston"},
        "ignore",
        ["email"],
        "ignored",
        NEW_YORK,
    ),
]

COLUMNS = ["firstName", "lastName", "email", "phoneNumber", "city"]


def _profile(customer: dict[str, Any]) -> dict[str, Any]:
    ignored = ("id", "createdAt", "updatedAt", "lastImportId")
    return {k: v for k, v in customer.items() if k not in ignored}


async def _seed(api, headers, existing: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(
        "/customers/bulkCustomers",
        headers=headers,
        json={"action": "ignore", "deduplicationKeys": ["email"], "customers": [existing]},
    )
    assert response.json()["insertedCount"] == 1, response.text
    return (await api.get("/customers", headers=headers)).json()["items"][0]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
async def test_import_applies_the_documented_action(api, worker, admin_headers, example) -> None:
    before = await _seed(api, admin_headers, example.existing)
    content = csv_bytes(COLUMNS, [[example.row.get(c, "") for c in COLUMNS]])
    config = {"deduplicationKeys": example.keys, "action": example.action}
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["counts"][example.outcome] == 1, job
    after = (await api.get("/customers", headers=admin_headers)).json()
    assert after["total"] == 1
    assert after["items"][0]["id"] == before["id"]
    assert after["items"][0]["createdAt"] == before["createdAt"]
    assert _profile(after["items"][0]) == example.expected


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
async def test_bulk_endpoint_applies_the_documented_action(api, admin_headers, example) -> None:
    before = await _seed(api, admin_headers, example.existing)
    row = {k: v for k, v in example.row.items() if v}
    response = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={"action": example.action, "deduplicationKeys": example.keys, "customers": [row]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    counted = {"updated": body["updatedCount"], "ignored": body["ignoredCount"]}
    assert counted[example.outcome] == 1, body
    assert body["appendedCount"] == (
        1 if example.action == "append" and example.expected != example.existing else 0
    )
    after = await api.get(f"/customers/{before['id']}", headers=admin_headers)
    assert _profile(after.json()) == example.expected
    if example.expected == example.existing:
        assert after.json()["updatedAt"] == before["updatedAt"]
