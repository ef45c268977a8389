"""POST /customers/bulkCustomers: rejections with reasons, limits, identifier ownership."""

from __future__ import annotations

PHONE_1, PHONE_2 = "+12025550143", "+14155550132"


async def _bulk(api, headers, customers, action="append", keys=("email",)):
    return await api.post(
        "/customers/bulkCustomers",
        headers=headers,
        json={"action": action, "deduplicationKeys": list(keys), "customers": customers},
    )


async def test_documented_request_inserts_and_reports_each_rejection(api, admin_headers) -> None:
    response = await _bulk(
        api,
        admin_headers,
        [
            {
                "firstName": "John",
                "phoneNumber": [PHONE_1],
                "email": ["john@example.com"],
                "labels": "premium",
            },
            {"firstName": "Jane", "phoneNumber": [PHONE_2], "email": ["jane@example.com"]},
            {"firstName": "Bad", "email": "invalid@"},
            {"email": ["nobody@example.com"]},
            {"firstName": "Odd", "shoeSize": 42},
        ],
        keys=("email", "phoneNumber"),
    )
    assert response.status_code == 200
    body = response.json()
    assert (
        body["insertedCount"],
        body["updatedCount"],
        body["appendedCount"],
        body["rejectedCount"],
    ) == (2, 0, 0, 3)
    reasons = [r["reason"] for r in body["rejectedCustomers"]]
    assert reasons[0] == "Invalid email format: 'invalid@'"
    assert reasons[1] == "Missing mandatory field: firstName"
    assert reasons[2] == "Unknown attribute: shoeSize"
    assert body["rejectedCustomers"][0]["customer"] == {"firstName": "Bad", "email": "invalid@"}
    john = (
        await api.get("/customers", params={"email": "john@example.com"}, headers=admin_headers)
    ).json()["items"][0]
    assert john["labels"] == ["premium"]  # a scalar for a multi-value attribute is a list


async def test_rows_of_one_request_behave_as_if_processed_in_order(api, admin_headers) -> None:
    body = (
        await _bulk(
            api,
            admin_headers,
            [
                {"firstName": "John", "email": "john@example.com"},
                {"firstName": "John", "email": "john@example.com", "phoneNumber": PHONE_1},
                {"firstName": "Johnny", "email": "john@example.com", "phoneNumber": PHONE_2},
            ],
        )
    ).json()
    assert (body["insertedCount"], body["updatedCount"], body["appendedCount"]) == (1, 2, 1)
    customers = (await api.get("/customers", headers=admin_headers)).json()
    assert customers["total"] == 1
    assert customers["items"][0]["phoneNumber"] == [PHONE_1, PHONE_2]
    assert customers["items"][0]["firstName"] == "Johnny"


async def test_identifier_held_by_another_customer_fails_naming_it(api, admin_headers) -> None:
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "A", "email": "a@example.com", "phoneNumber": PHONE_1},
            {"firstName": "B", "email": "b@example.com"},
        ],
    )
    body = (
        await _bulk(
            api,
            admin_headers,
            [
                {"firstName": "B", "email": "b@example.com", "phoneNumber": PHONE_1},
            ],
        )
    ).json()
    assert body["rejectedCount"] == 1
    assert body["rejectedCustomers"][0]["reason"].startswith(
        f"Phone Number '{PHONE_1}' already belongs to another customer (id "
    )
    b = (
        await api.get("/customers", params={"email": "b@example.com"}, headers=admin_headers)
    ).json()["items"][0]
    assert "phoneNumber" not in b


async def test_a_row_matching_two_customers_fails(api, admin_headers) -> None:
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "A", "email": "a@example.com"},
            {"firstName": "B", "phoneNumber": PHONE_1},
        ],
    )
    body = (
        await _bulk(
            api,
            admin_headers,
            [
                {"firstName": "AB", "email": "a@example.com", "phoneNumber": PHONE_1},
            ],
            action="update",
            keys=("email", "phoneNumber"),
        )
    ).json()
    assert body["rejectedCount"] == 1
    assert body["rejectedCustomers"][0]["reason"] == (
        "Matches 2 different existing customers by Email, Phone Number"
    )


async def test_too_many_customers_is_413_and_nothing_is_written(api, admin_headers) -> None:
    from config import get_settings

    limit = get_settings().bulk_max_customers
    customers = [{"firstName": "X", "email": f"x{i}@example.com"} for i in range(limit + 1)]
    response = await _bulk(api, admin_headers, customers)
    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]
    assert (await api.get("/customers", headers=admin_headers)).json()["total"] == 0


async def test_malformed_requests_get_a_reason_not_a_500(api, admin_headers) -> None:
    # 400: not the documented shape; 422: the shape, but against a rule it cannot express.
    cases = [
        ({"action": "merge", "deduplicationKeys": ["email"], "customers": [{}]}, 400),
        ({"action": "append", "deduplicationKeys": [], "customers": [{"firstName": "A"}]}, 422),
        ({"action": "append", "deduplicationKeys": ["city"], "customers": [{}]}, 422),
        ({"action": "append", "deduplicationKeys": ["email"], "customers": []}, 422),
        ({"action": "append", "deduplicationKeys": ["email"], "customers": "nope"}, 400),
    ]
    for payload, status in cases:
        response = await api.post("/customers/bulkCustomers", headers=admin_headers, json=payload)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["detail"]
    nested = await _bulk(api, admin_headers, [{"firstName": {"nested": 1}}])
    assert nested.json()["rejectedCustomers"][0]["reason"].startswith("Invalid value for firstName")


async def test_viewer_may_not_write(api, admin_headers) -> None:
    key = (
        await api.post("/api-keys", headers=admin_headers, json={"name": "v", "role": "viewer"})
    ).json()["key"]
    response = await _bulk(api, {"Authorization": f"Bearer {key}"}, [{"firstName": "A"}])
    assert response.status_code == 403


async def test_channel_identifier_is_refused_when_it_differs_from_the_keys(
    api, admin_headers
) -> None:
    """The import config's rule: channelIdentifier is a synonym of deduplicationKeys with one
    entry, refused when both are given and differ (not silently ignored)."""
    customer = {"firstName": "Cy", "email": "cy@example.com", "phoneNumber": PHONE_1}
    both = {"action": "ignore", "deduplicationKeys": ["email"], "customers": [customer]}
    refused = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={**both, "channelIdentifier": "phoneNumber"},
    )
    assert refused.status_code == 422, refused.text
    assert "give deduplicationKeys or channelIdentifier, not both" in refused.json()["detail"]

    alone = {"action": "ignore", "channelIdentifier": "email", "customers": [customer]}
    same = {**both, "channelIdentifier": "email"}
    for body in (alone, same):
        response = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
        assert response.status_code == 200, response.text
