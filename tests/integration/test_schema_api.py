"""The schema endpoints through the real API and database."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.helpers import import_form, wait_for_job


async def viewer_headers(
    api: httpx.AsyncClient, admin_headers: dict[str, str], role: str
) -> dict[str, str]:
    created = await api.post("/api-keys", headers=admin_headers, json={"name": role, "role": role})
    assert created.status_code == 201
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def test_record_types_and_default_schema(api, admin_headers) -> None:
    types = await api.get("/record-types", headers=admin_headers)
    assert types.json() == [{"name": "customers", "label": "Customers"}]
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    assert schema["recordType"] == "customers"
    first = schema["attributes"][0]
    assert set(first) == {
        "key",
        "label",
        "type",
        "required",
        "multiValue",
        "channelIdentifier",
        "synonyms",
    }
    assert (first["key"], first["required"]) == ("firstName", True)
    identifiers = (
        await api.get("/record-types/customers/channel-identifiers", headers=admin_headers)
    ).json()
    assert identifiers[:2] == [
        {"key": "email", "label": "Email"},
        {"key": "phoneNumber", "label": "Phone Number"},
    ]
    assert len(identifiers) == 12


async def test_unknown_record_type_is_404(api, admin_headers) -> None:
    response = await api.get("/record-types/orders/schema", headers=admin_headers)
    assert response.status_code == 404
    assert "orders" in response.json()["detail"]


async def test_template_lists_every_key_and_its_example_row_imports(
    api, admin_headers, worker
) -> None:
    response = await api.get("/record-types/customers/template.csv", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    assert rows[0] == [a["key"] for a in schema["attributes"]]
    assert len(rows) == 2
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(response.content, config)
    )
    assert created.status_code == 202, created.text

    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["counts"]["imported"] == 1, job


async def test_admin_replaces_the_schema_and_the_template_follows(api, admin_headers) -> None:
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    attributes: list[dict[str, Any]] = schema["attributes"] + [
        {
            "key": "loyaltyPoints",
            "label": "Loyalty Points",
            "type": "number",
            "synonyms": ["points"],
        }
    ]
    response = await api.put(
        "/record-types/customers/schema", headers=admin_headers, json={"attributes": attributes}
    )
    assert response.status_code == 200, response.text
    assert response.json()["attributes"][-1]["key"] == "loyaltyPoints"
    stored = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    assert stored["attributes"][-1]["synonyms"] == ["points"]
    template = await api.get("/record-types/customers/template.csv", headers=admin_headers)
    header, example = list(csv.reader(io.StringIO(template.text)))
    assert header[-1] == "loyaltyPoints" and example[-1] == "42"


async def test_only_an_admin_may_replace_the_schema(api, admin_headers) -> None:
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    for role in ("viewer", "importer"):
        headers = await viewer_headers(api, admin_headers, role)
        assert (await api.get("/record-types/customers/schema", headers=headers)).status_code == 200
        response = await api.put("/record-types/customers/schema", headers=headers, json=schema)
        assert response.status_code == 403
    assert (await api.put("/record-types/customers/schema", json=schema)).status_code == 401


async def test_invalid_schemas_are_refused_with_a_reason_and_change_nothing(
    api, admin_headers
) -> None:
    before = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    good = before["attributes"]
    # 400: not the documented shape; 422: the shape, but against a rule it cannot express.
    cases: list[tuple[Any, int, str]] = [
        ({"attributes": [*good, {"key": "$where", "label": "X"}]}, 422, "must start with a letter"),
        (
            {"attributes": [*good, {"key": "address.city", "label": "X"}]},
            422,
            "must start with a letter",
        ),
        ({"attributes": [*good, {"key": "email", "label": "Again"}]}, 422, "more than once"),
        ({"attributes": [*good, {"key": "age", "label": "Age", "type": "integer"}]}, 400, "type"),
        ({"attributes": [{"key": "a", "label": "A"}]}, 422, "channel identifier"),
        ({"attributes": []}, 400, "attributes"),
        ({"attributes": "firstName"}, 400, "attributes"),
        ({"recordType": "orders", "attributes": good}, 422, "differs from the path"),
        ([1, 2], 400, ""),
    ]
    for body, status, reason in cases:
        response = await api.put("/record-types/customers/schema", headers=admin_headers, json=body)
        assert response.status_code == status, (body, response.text)
        assert reason in response.json()["detail"], response.text
    after = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    assert after == before
