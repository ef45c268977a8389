"""Imports through the real API and two real worker processes give exactly what a simple
row-by-row reading of DESIGN.md §3 gives, for every action, keys and batch size."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.helpers import csv_bytes, seed_customers_sync, wait_for_job_sync
from tests.reference_model import (
    COLUMNS,
    EMAILS,
    PHONES,
    canonical,
    existing_strategy,
    reference,
    rows_strategy,
    validated,
)


def _one_customer_by_two_values(action: str) -> dict[str, object]:
    """Rows that share no value but reach one existing customer, alternately by its email
    and by its phone (each row's batch of its own with batch size 1): they apply in file
    order, whatever the number of workers."""
    rows = [
        {
            "firstName": ["Ann", "Bob"][n % 2],
            "email": EMAILS[0] if n % 2 == 0 else "",
            "phoneNumber": PHONES[0] if n % 2 else "",
            "city": ["Paris", "Rome", ""][n % 3],
            "labels": ["vip", "new"][n // 2 % 2],
        }
        for n in range(8)
    ]
    existing = [{"firstName": "Old", "email": [EMAILS[0]], "phoneNumber": [PHONES[0]]}]
    return {"existing": existing, "rows": rows, "action": action, "keys": ["email", "phoneNumber"]}


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_import_matches_the_row_by_row_reference(batch_size, api_server, worker, sync_db) -> None:
    client = httpx.Client(
        base_url=api_server, timeout=60, headers={"Authorization": "Bearer test-admin-key"}
    )

    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        existing=existing_strategy(),
        rows=rows_strategy,
        action=st.sampled_from(["ignore", "replace", "update", "append"]),
        keys=st.sampled_from([["email"], ["phoneNumber"], ["email", "phoneNumber"]]),
    )
    @example(**_one_customer_by_two_values("append"))
    @example(**_one_customer_by_two_values("replace"))
    @example(**_one_customer_by_two_values("update"))
    def check(existing, rows, action, keys) -> None:
        # A line of empty cells is a blank line, not a record: the reader skips it.
        rows = [r for r in rows if any(r.values())]
        assume(rows)
        for name in (
            "customers",
            "import_jobs",
            "import_batches",
            "identifier_claims",
            "claim_writers",
        ):
            sync_db[name].delete_many({})
        seed_customers_sync(sync_db, existing)
        content = csv_bytes(COLUMNS, [[r[c] for c in COLUMNS] for r in rows])
        config = {"deduplicationKeys": keys, "action": action, "batchSize": batch_size}
        response = client.post(
            "/imports",
            files={"file": ("f.csv", content, "text/csv")},
            data={"config": json.dumps(config)},
        )
        assert response.status_code == 202, response.text
        job = wait_for_job_sync(client, response.json()["id"])
        expected, counts = reference(existing, [validated(r) for r in rows], action, keys)
        stored = [doc["attributes"] for doc in sync_db["customers"].find()]
        assert job["status"] == "completed"
        assert {k: job["counts"][k] for k in counts} == counts
        assert job["counts"]["total"] == len(rows)
        assert canonical(stored) == canonical(expected)

    try:
        check()
    finally:
        client.close()
