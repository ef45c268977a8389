"""Schema changes that cannot lose data (issue 25), through the real API and database:
defaults kept, values guarding removal and retyping, identifiers claimed and released,
versions with If-Match, restore, and adding one attribute."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import csv_bytes, import_form, wait_for_job

SCHEMA = "/record-types/customers/schema"


async def _schema(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    response = await api.get(SCHEMA, headers=headers)
    assert response.status_code == 200
    return response


async def _attributes(api: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    attributes: list[dict[str, Any]] = (await _schema(api, headers)).json()["attributes"]
    return attributes


async def _put(
    api: httpx.AsyncClient, headers: dict[str, str], attributes: list[dict[str, Any]], **params: Any
) -> httpx.Response:
    return await api.put(SCHEMA, headers=headers, json={"attributes": attributes}, params=params)


async def _add(api: httpx.AsyncClient, headers: dict[str, str], attribute: dict[str, Any]) -> None:
    response = await api.post(f"{SCHEMA}/attributes", headers=headers, json=attribute)
    assert response.status_code == 201, response.text


async def _bulk(
    api: httpx.AsyncClient, headers: dict[str, str], customers: list[dict[str, Any]]
) -> None:
    body = {"action": "update", "deduplicationKeys": ["email"], "customers": customers}
    response = await api.post("/customers/bulkCustomers", headers=headers, json=body)
    assert response.status_code == 200 and response.json()["rejectedCount"] == 0, response.text


async def _customer(api: httpx.AsyncClient, headers: dict[str, str], email: str) -> dict[str, Any]:
    found = await api.get("/customers", headers=headers, params={"email": email})
    item: dict[str, Any] = found.json()["items"][0]
    return item


def _with(attributes: list[dict[str, Any]], key: str, **change: Any) -> list[dict[str, Any]]:
    return [{**a, **change} if a["key"] == key else a for a in attributes]


def _without(attributes: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [a for a in attributes if a["key"] != key]


async def test_a_default_attribute_cannot_be_removed(api, admin_headers) -> None:
    before = await _attributes(api, admin_headers)
    response = await _put(api, admin_headers, _without(before, "email"), force="true")
    assert response.status_code == 409
    assert "email" in response.json()["detail"]
    assert await _attributes(api, admin_headers) == before
    relabelled = await _put(api, admin_headers, _with(before, "email", label="E-mail"))
    assert relabelled.status_code == 200, relabelled.text


async def test_removing_or_retyping_an_attribute_with_data_needs_force(api, admin_headers) -> None:
    await _add(api, admin_headers, {"key": "points", "label": "Points", "type": "number"})
    await _add(api, admin_headers, {"key": "nickname", "label": "Nickname"})
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "A", "email": "a@example.com", "points": "42", "nickname": "Al"},
            {"firstName": "B", "email": "b@example.com", "points": "7.5"},
            {"firstName": "C", "email": "c@example.com"},
        ],
    )
    attributes = await _attributes(api, admin_headers)
    removed = await _put(api, admin_headers, _without(attributes, "nickname"))
    assert removed.status_code == 409
    assert "1 customers hold values for nickname" in removed.json()["detail"]
    retyped = await _put(api, admin_headers, _with(attributes, "points", type="string"))
    assert retyped.status_code == 409
    assert "2 customers hold values for points" in retyped.json()["detail"]
    assert await _attributes(api, admin_headers) == attributes  # nothing changed

    forced = await _put(api, admin_headers, _with(attributes, "points", type="string"), force=True)
    assert forced.status_code == 200, forced.text
    assert (await _customer(api, admin_headers, "a@example.com"))["points"] == "42"
    assert (await _customer(api, admin_headers, "b@example.com"))["points"] == "7.5"

    await _bulk(api, admin_headers, [{"firstName": "C", "email": "c@example.com", "points": "x"}])
    attributes = await _attributes(api, admin_headers)
    back = await _put(api, admin_headers, _with(attributes, "points", type="number"), force=True)
    assert back.status_code == 409
    assert "1 of the 3 customers holding points" in back.json()["detail"]
    assert (await _customer(api, admin_headers, "a@example.com"))["points"] == "42"

    gone = await _put(api, admin_headers, _without(attributes, "nickname"), force=True)
    assert gone.status_code == 200, gone.text
    assert "nickname" not in await _customer(api, admin_headers, "a@example.com")


async def _unflag_telegram(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    attributes = await _attributes(api, headers)
    response = await _put(api, headers, _with(attributes, "telegram", channelIdentifier=False))
    assert response.status_code == 200, response.text


async def _flag_telegram(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    attributes = await _attributes(api, headers)
    return await _put(api, headers, _with(attributes, "telegram", channelIdentifier=True))


async def test_an_identifier_is_refused_while_two_customers_share_a_value(
    api, admin_headers
) -> None:
    await _unflag_telegram(api, admin_headers)
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "A", "email": "a@example.com", "telegram": "@shared"},
            {"firstName": "B", "email": "b@example.com", "telegram": ["@shared", "@b"]},
        ],
    )
    refused = await _flag_telegram(api, admin_headers)
    assert refused.status_code == 409
    assert "'@shared' (2 customers)" in refused.json()["detail"]
    identifiers = await api.get(
        "/record-types/customers/channel-identifiers", headers=admin_headers
    )
    assert "telegram" not in [i["key"] for i in identifiers.json()]


async def test_a_new_identifier_claims_every_value_and_an_import_matches_on_it(
    api, admin_headers, worker
) -> None:
    await _unflag_telegram(api, admin_headers)
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "A", "email": "a@example.com", "telegram": "@a"},
            {"firstName": "B", "email": "b@example.com", "telegram": ["@b1", "@b2"]},
        ],
    )
    flagged = await _flag_telegram(api, admin_headers)
    assert flagged.status_code == 200, flagged.text
    content = csv_bytes(["firstName", "telegram", "city"], [["Bee", "@b2", "Oslo"]])
    config = {"deduplicationKeys": ["telegram"], "action": "update"}
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["counts"]["updated"] == 1, job
    assert (await _customer(api, admin_headers, "b@example.com"))["city"] == "Oslo"

    await _unflag_telegram(api, admin_headers)  # releases the claims: the flag again is clean
    assert (await _flag_telegram(api, admin_headers)).status_code == 200


async def test_a_stale_if_match_is_refused_and_versions_say_who_when_what(
    api, admin_headers
) -> None:
    first = await _schema(api, admin_headers)
    etag, attributes = first.headers["etag"], first.json()["attributes"]
    changed = await api.put(
        SCHEMA,
        headers={**admin_headers, "If-Match": etag},
        json={"attributes": _with(attributes, "city", label="Town")},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != etag
    stale = await api.put(
        SCHEMA,
        headers={**admin_headers, "If-Match": etag},
        json={"attributes": _with(attributes, "city", label="Village")},
    )
    assert stale.status_code == 412
    assert (await _attributes(api, admin_headers))[4]["label"] == "Town"
    versions = (await api.get(f"{SCHEMA}/versions", headers=admin_headers)).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["by"] == "admin" and versions[0]["at"]
    assert versions[0]["diff"]["changed"] == [
        {"key": "city", "fields": {"label": {"before": "City", "after": "Town"}}}
    ]


async def test_restoring_a_version_gives_exactly_its_attributes(api, admin_headers) -> None:
    original = await _attributes(api, admin_headers)
    await _add(api, admin_headers, {"key": "company", "label": "Company"})
    version_2 = await _attributes(api, admin_headers)
    replaced = _with(_without(version_2, "company"), "city", synonyms=["borough"], required=True)
    assert (await _put(api, admin_headers, replaced)).status_code == 200
    restored = await api.post(f"{SCHEMA}/versions/2/restore", headers=admin_headers)
    assert restored.status_code == 200, restored.text
    assert await _attributes(api, admin_headers) == version_2
    assert (await api.post(f"{SCHEMA}/versions/1/restore", headers=admin_headers)).is_success
    assert await _attributes(api, admin_headers) == original
    versions = (await api.get(f"{SCHEMA}/versions", headers=admin_headers)).json()["items"]
    assert [(v["version"], v["diff"]["restoredFrom"]) for v in versions[:2]] == [(5, 1), (4, 2)]
    missing = await api.post(f"{SCHEMA}/versions/99/restore", headers=admin_headers)
    assert missing.status_code == 404
    trail = await api.get(
        "/audit-events", headers=admin_headers, params={"action": "schema.updated"}
    )
    events = trail.json()["items"]
    assert [(e["details"]["version"], e["details"]["restoredFrom"]) for e in events] == [
        (5, 1),
        (4, 2),
        (3, None),
        (2, None),
    ]
    assert events[0]["details"]["added"] == [] and events[0]["details"]["removed"] == ["company"]


async def test_an_added_attribute_is_in_the_template_and_the_mapping_at_once(
    api, admin_headers
) -> None:
    await _add(api, admin_headers, {"key": "company", "label": "Company", "synonyms": ["org"]})
    template = await api.get("/record-types/customers/template.csv", headers=admin_headers)
    assert template.text.splitlines()[0].split(",")[-1] == "company"
    content = csv_bytes(["First Name", "Email", "Org"], [["Ann", "ann@example.com", "Acme"]])
    suggested = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("c.csv", content, "text/csv")},
    )
    fields = {c["column"]: c["field"] for c in suggested.json()["columns"]}
    assert fields["Org"] == "company"
    again = await api.post(
        f"{SCHEMA}/attributes", headers=admin_headers, json={"key": "company", "label": "Again"}
    )
    assert again.status_code == 422 and "already has" in again.json()["detail"]


async def test_only_an_admin_changes_the_schema(api, admin_headers) -> None:
    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "imp", "role": "importer"}
    )
    importer = {"Authorization": f"Bearer {created.json()['key']}"}
    attribute = {"key": "company", "label": "Company"}
    assert (
        await api.post(f"{SCHEMA}/attributes", headers=importer, json=attribute)
    ).status_code == 403
    assert (await api.get(f"{SCHEMA}/versions", headers=importer)).status_code == 403
    assert (await api.post(f"{SCHEMA}/versions/1/restore", headers=importer)).status_code == 403


async def test_a_change_cut_short_after_the_switch_is_finished_at_the_next_start(
    api, admin_headers, database
) -> None:
    from store.schemas import ensure_default_schemas

    await _add(api, admin_headers, {"key": "points", "label": "Points", "type": "number"})
    await _bulk(api, admin_headers, [{"firstName": "A", "email": "a@example.com", "points": 4}])
    attributes = _without(await _attributes(api, admin_headers), "points")
    # What a forced removal's switch writes, its process dying before it moved the values.
    await database["record_schemas"].update_one(
        {"_id": "customers"},
        {
            "$set": {
                "attributes": attributes,
                "version": 3,
                "migration": {
                    "unset": ["points"],
                    "convert": [],
                    "release": [],
                    "phonePolicy": "strict",
                },
            }
        },
    )
    assert (await _customer(api, admin_headers, "a@example.com"))["points"] == 4
    await ensure_default_schemas()
    assert "points" not in await _customer(api, admin_headers, "a@example.com")
    stored = await database["record_schemas"].find_one({"_id": "customers"})
    assert "migration" not in stored
