"""At-least-once delivery and concurrent imports through real workers: every batch message
delivered several times at once gives exactly one clean run, and two overlapping imports
never create the same customer twice."""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
from typing import Any

import pytest

from config import get_settings
from domain.import_config import ImportConfig
from store import db, jobs
from store.documents import Customer, ImportBatch
from tests.conftest import TEST_DATABASE
from tests.helpers import csv_bytes, import_form, wait_for_job
from workers.actors import dispatcher as worker_dispatcher

COLUMNS = ["firstName", "email", "phoneNumber", "city", "labels"]
PHONES = [f"+1202555{n:04d}" for n in range(100, 160)]


def _file(seed: int, rows: int) -> bytes:
    """Rows that share emails and phones with each other and with the seeded customers,
    with multi-value cells and a few invalid values."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        emails = rng.sample(range(30), rng.choice([1, 1, 2]))
        lines.append(
            [
                rng.choice(["Ann", "Bob", ""]),
                "|".join(f"p{e}@example.com" for e in emails),
                rng.choice([*PHONES[:20], "", "555-12"]),
                rng.choice(["", "Paris", "Rome"]),
                rng.choice(["", "vip", "vip|new"]),
            ]
        )
    return csv_bytes(COLUMNS, lines)


EXISTING = [
    {"firstName": "Old", "email": f"p{n}@example.com", "phoneNumber": PHONES[20 + n]}
    for n in range(0, 30, 3)
]


async def _fresh_database(api: Any, headers: dict[str, str]) -> None:
    await db.client().drop_database(TEST_DATABASE)
    await db.initialise(db.database())
    response = await api.post(
        "/customers/bulkCustomers",
        headers=headers,
        json={"action": "ignore", "deduplicationKeys": ["email"], "customers": EXISTING},
    )
    assert response.json()["insertedCount"] == len(EXISTING), response.text


async def _customers() -> list[dict[str, Any]]:
    """The customers' profiles, without ids and timestamps, in a stable order."""
    docs = await Customer.get_pymongo_collection().find({}, {"attributes": 1}).to_list()
    return sorted((d["attributes"] for d in docs), key=repr)


async def _row_outcomes(job_id: str) -> list[tuple[int, str, str | None]]:
    outcomes = []
    async for batch in ImportBatch.find(ImportBatch.job_id == job_id):
        outcomes.extend((r.number, r.outcome, _without_ids(r.reason)) for r in batch.results)
    return sorted(outcomes)


def _without_ids(reason: str | None) -> str | None:
    """A conflict's reason names the other customer by id, which differs between two runs."""
    return None if reason is None else re.sub(r"\(id [0-9a-f]{24}\)", "(id …)", reason)


class DeliverTwice:
    """Sends every message twice through the real broker, as a redelivering Redis would."""

    def __init__(self) -> None:
        self.batch_ids: list[str] = []

    def plan(self, job_id: str) -> None:
        """Planning runs in the test (below) so that its batch messages go through here."""

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        self.batch_ids.append(batch_id)
        worker_dispatcher.process_batch(batch_id, small_import)
        worker_dispatcher.process_batch(batch_id, small_import)

    def finalize(self, job_id: str) -> None:
        worker_dispatcher.finalize(job_id)
        worker_dispatcher.finalize(job_id)


@pytest.mark.parametrize("action", ["ignore", "replace", "update", "append"])
async def test_every_batch_delivered_three_times_at_once_equals_one_clean_run(
    api, worker, admin_headers, action
) -> None:
    content = _file(seed=7, rows=60)
    config = {"deduplicationKeys": ["email"], "action": action, "batchSize": 4}

    await _fresh_database(api, admin_headers)
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    clean = await wait_for_job(api, created.json()["id"], admin_headers)
    assert clean["status"] == "completed", clean
    clean_customers = await _customers()
    clean_outcomes = await _row_outcomes(clean["id"])

    await _fresh_database(api, admin_headers)
    settings = get_settings()
    doubling = DeliverTwice()
    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        job = await jobs.create_job(
            upload, "customers.csv", ImportConfig.model_validate(config), "test", doubling, settings
        )
    await jobs.plan_job(str(job.id), doubling, settings)
    assert len(doubling.batch_ids) > 5
    # A third delivery of every batch, here, racing the two in the workers.
    await asyncio.gather(*(jobs.process_batch(b, doubling, settings) for b in doubling.batch_ids))
    redelivered = await wait_for_job(api, str(job.id), admin_headers, timeout=120)

    assert redelivered["status"] == "completed", redelivered
    assert redelivered["counts"] == clean["counts"]
    assert redelivered["progress"] == clean["progress"]
    assert await _row_outcomes(str(job.id)) == clean_outcomes
    assert await _customers() == clean_customers


@pytest.mark.parametrize("action", ["update", "append"])
async def test_overlapping_imports_never_duplicate_a_customer(
    api, worker, admin_headers, action
) -> None:
    """Two files with the same 40 new emails (and shared phones), uploaded at once in small
    batches: every email becomes exactly one customer, the other row for it updates it."""
    emails = [f"race{n}@example.com" for n in range(40)]
    files = []
    for seed in (1, 2):
        rng = random.Random(seed)
        order = rng.sample(emails, len(emails))
        files.append(
            csv_bytes(
                ["firstName", "email", "phoneNumber", "labels"],
                [
                    [f"F{seed}", e, PHONES[emails.index(e)], rng.choice(["vip", "new"])]
                    for e in order
                ],
            )
        )
    config = {"deduplicationKeys": ["email"], "action": action, "batchSize": 3}
    created = await asyncio.gather(
        *(api.post("/imports", headers=admin_headers, **import_form(f, config)) for f in files)
    )
    jobs = await asyncio.gather(
        *(wait_for_job(api, c.json()["id"], admin_headers, timeout=120) for c in created)
    )

    assert [j["status"] for j in jobs] == ["completed", "completed"], jobs
    assert sum(j["counts"]["failed"] for j in jobs) == 0, jobs
    assert sum(j["counts"]["imported"] for j in jobs) == len(emails)
    assert sum(j["counts"]["updated"] for j in jobs) == len(emails)
    customers = await _customers()
    assert len(customers) == len(emails)
    assert sorted(e for c in customers for e in c["email"]) == sorted(emails)
    phones = [p for c in customers for p in c["phoneNumber"]]
    assert len(phones) == len(set(phones)) == len(emails)
    for customer in customers:
        # Each customer got both files' rows: the second one updated the first one's insert.
        if action == "append":
            assert customer["firstName"] in ("F1", "F2")
            assert 1 <= len(customer["labels"]) <= 2
