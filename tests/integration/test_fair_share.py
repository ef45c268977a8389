"""Imports share the workers: a one-row import sent while big imports have all their batches
waiting does not wait behind them (workers.queues)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers import csv_bytes, import_form, wait_for_idle_queue, wait_for_job, wait_until

REDIS_URL = os.environ["REDIS_URL"]
HEADER = ["firstName", "email"]
BIG_IMPORTS, BIG_ROWS, BIG_BATCH = 3, 1_500, 25  # 60 batches each


@pytest.fixture(autouse=True)
async def idle_queue() -> AsyncIterator[None]:
    await wait_for_idle_queue(REDIS_URL)
    yield
    await wait_for_idle_queue(REDIS_URL, timeout=120)


async def _send(api: Any, headers: dict[str, str], prefix: str, rows: int, batch: int) -> str:
    content = csv_bytes(HEADER, [[f"P{i}", f"{prefix}{i}@example.com"] for i in range(rows)])
    config = {"deduplicationKeys": ["email"], "action": "ignore", "batchSize": batch}
    response = await api.post("/imports", headers=headers, **import_form(content, config))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


async def test_a_one_row_import_does_not_wait_behind_big_ones(api, worker, admin_headers) -> None:
    big = [await _send(api, admin_headers, f"big{n}-", BIG_ROWS, BIG_BATCH) for n in range(3)]

    async def all_planned() -> bool:
        for job_id in big:
            job = (await api.get(f"/imports/{job_id}", headers=admin_headers)).json()
            if job["status"] != "in_progress":
                return False
        return True

    # Every big import's batches now wait in the queue, ahead of anything sent later.
    await wait_until(all_planned, "the big imports are planned", timeout=60, interval=0.02)
    small = await _send(api, admin_headers, "small-", 1, 100)
    done = await wait_for_job(api, small, admin_headers, timeout=60)
    assert done["status"] == "completed" and done["counts"]["imported"] == 1, done

    processed = 0
    for job_id in big:
        job = (await api.get(f"/imports/{job_id}", headers=admin_headers)).json()
        processed += job["progress"]["processedRows"]
    # Fetched in arrival order, the small import would have run after (nearly) all of them.
    assert processed < BIG_IMPORTS * BIG_ROWS / 2, f"{processed} big rows ran first"
    for job_id in big:
        assert (await wait_for_job(api, job_id, admin_headers, timeout=120))["status"] == (
            "completed"
        )


async def test_rows_failing_on_values_others_hold_take_nothing_to_give_back(
    api, database, worker, admin_headers
) -> None:
    """Planning found the file's rows reaching existing customers (by their phones): the
    batch reads the claims first, so rows that fail on a value
    another customer holds neither take their other values nor give them back."""
    header = ["firstName", "email", "phoneNumber"]
    seeded = [[f"S{i}", f"seed{i}@example.com", f"+1202555{i:04d}"] for i in range(300)]
    config = {"deduplicationKeys": ["email"], "action": "append"}
    sent = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(header, seeded), config)
    )
    assert (await wait_for_job(api, sent.json()["id"], admin_headers))["status"] == "completed"

    taken = [[f"T{i}", f"taker{i}@example.com", f"+1202555{i:04d}"] for i in range(50)]
    await database.command("profile", 2)
    sent = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(header, taken), config)
    )
    job = await wait_for_job(api, sent.json()["id"], admin_headers)
    await database.command("profile", 0)
    on_claims = {"ns": f"{database.name}.identifier_claims"}  # the server's own profiler
    writes = [o["op"] for o in await database["system.profile"].find(on_claims).to_list()]

    assert job["counts"]["failed"] == 50, job
    # Planning found every row reaching a seeded customer (by its phone).
    planned = await database["import_batches"].find({"job_id": job["id"]}).to_list()
    assert [(b["row_count"], b["held_rows"]) for b in planned] == [(50, 50)]
    assert (
        await database["identifier_claims"].count_documents({"_id": {"$regex": "^email:taker"}})
        == 0
    )
    # Trying to take them first inserted the claims of the 50 new emails, then removed them.
    assert not {"insert", "remove", "delete"} & set(writes), writes
