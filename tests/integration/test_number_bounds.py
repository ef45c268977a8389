"""A whole number beyond MongoDB's 64-bit integers fails its own row with a reason, through
the real pipeline: the other rows import (such a value cannot be written, and it took the
whole import down with it)."""

from __future__ import annotations

from tests.helpers import csv_bytes, import_form, wait_for_job

TOO_BIG = ["9223372036854775808", "-9223372036854775809", "9" * 5000]


async def test_a_number_too_big_to_store_fails_its_row_and_the_rest_imports(
    api, database, worker, admin_headers
) -> None:
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    score = {"key": "score", "label": "Score", "type": "number"}
    replaced = await api.put(
        "/record-types/customers/schema",
        headers=admin_headers,
        json={"attributes": [*schema["attributes"], score]},
    )
    assert replaced.status_code == 200, replaced.text
    rows = [["Ann", "ann@example.com", "9223372036854775807"]]
    rows += [[f"Big{i}", f"big{i}@example.com", value] for i, value in enumerate(TOO_BIG)]
    content = csv_bytes(["firstName", "email", "score"], rows)
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert created.status_code == 202, created.text

    job = await wait_for_job(api, created.json()["id"], admin_headers)

    assert job["status"] == "completed", job
    assert (job["counts"]["imported"], job["counts"]["failed"]) == (1, 3), job
    failed = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    assert failed.status_code == 200, failed.text
    for value in TOO_BIG:
        assert f"Invalid number for score: '{value}' (too large)" in failed.text
    customers = (await api.get("/customers", headers=admin_headers)).json()["items"]
    assert [(c["firstName"], c["score"]) for c in customers] == [("Ann", 2**63 - 1)]
