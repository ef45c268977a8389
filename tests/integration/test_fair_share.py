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
