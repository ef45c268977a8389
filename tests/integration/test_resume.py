"""Resume (POST /imports/{id}/resume): a cancelled import continued with the rows it did not
process, as a new import linked to it. Cancelled at a known row and resumed, the two jobs
write the customers and add up to the counts of one uninterrupted import of the same file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from bson import ObjectId

from config import get_settings
from store import db, jobs
from store.documents import Role, utcnow
from store.principal import Principal
from tests.conftest import TEST_DATABASE
from tests.helpers import (
    RecordingDispatcher,
    csv_bytes,
    held_import,
    import_form,
    summary_counts,
    wait_for_job,
    wait_until,
)

HEADER = ["firstName", "email", "city"]
EXISTING = [
    {"firstName": "Old Ann", "email": ["ann@example.com"], "city": "Rome"},
    {"firstName": "Old Kim", "email": ["kim@example.com"]},
]
# New customers, duplicates of existing ones, invalid rows, and rows that repeat an email of
# an earlier row (so they are duplicates of the customer that row inserts), before and after
# the cancel.
ROWS = [
    ["Bea", "bea@example.com", "Oslo"],
    ["Ann", "ann@example.com", ""],
    ["Cy", "not-an-email", "Lima"],
    ["Dee", "dee@example.com", ""],
    ["Dee again", "dee@example.com", "Kyiv"],
    ["Eve", "eve@example.com", "Nice"],
    ["", "fay@example.com", "Bern"],
    ["Gus", "gus@example.com", ""],
    ["Kim", "kim@example.com", "Riga"],
    ["Bea again", "bea@example.com", "Baku"],
    ["Hal", "hal@example.com", "Doha"],
    ["Ivy", "ivy@example.com", "Pisa"],
]
ACTION = "update"
ADMIN = Principal(name="admin", role=Role.ADMIN, key_id="test")
BATCHES_BEFORE_THE_CANCEL = 2


async def seed(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    body = {"action": "ignore", "deduplicationKeys": ["email"], "customers": EXISTING}
    seeded = await api.post("/customers/bulkCustomers", headers=headers, json=body)
    assert seeded.status_code == 200 and seeded.json()["insertedCount"] == 2, seeded.text


async def customers(database: Any) -> list[dict[str, Any]]:
    found = [c["attributes"] async for c in database["customers"].find({}, {"attributes": 1})]
    return sorted(found, key=lambda attributes: attributes["email"])


def added(*counts: dict[str, int]) -> dict[str, int]:
    return {key: sum(c[key] for c in counts) for key in counts[0]}


async def report_summary(api: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> Any:
    report = await api.get(f"/imports/{job_id}/report", headers=headers)
    assert report.status_code == 200, report.text
    return summary_counts(report.content)


async def cancelled_at_a_known_row(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The import of ROWS, three rows a batch, cancelled once its first batches are done."""
    job_id, batches = await held_import(HEADER, ROWS, action=ACTION, batch_size=3)
    for batch in batches[:BATCHES_BEFORE_THE_CANCEL]:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    await jobs.cancel_job(job_id, ADMIN, RecordingDispatcher())
    await jobs.finalize_job(job_id, get_settings())  # its report, as the cancel's message does
    return job_id


async def test_a_cancelled_import_resumed_adds_up_to_one_uninterrupted_import(
    api, database, worker, admin_headers
) -> None:
    await seed(api, admin_headers)
    original_id = await cancelled_at_a_known_row(api, admin_headers)
    original = (await api.get(f"/imports/{original_id}", headers=admin_headers)).json()
    processed = original["progress"]["processedRows"]
    assert original["status"] == "cancelled"
    assert 0 < processed < len(ROWS)
    assert original["resumedBy"] is None

    answer = await api.post(f"/imports/{original_id}/resume", headers=admin_headers)
    assert answer.status_code == 202, answer.text
    assert set(answer.json()) == {"id", "status"}
    assert answer.json()["status"] == "pending"
    resume_id = answer.json()["id"]
    resume = await wait_for_job(api, resume_id, admin_headers)
    assert resume["status"] == "completed", resume
    assert resume["resumeOf"] == original_id
    assert (resume["action"], resume["mapping"]) == (ACTION, original["mapping"])
    assert resume["progress"] == {
        "processedRows": len(ROWS) - processed,
        "totalRows": len(ROWS) - processed,
    }
    assert resume["checkedRows"] == len(ROWS) - processed
    linked = (await api.get(f"/imports/{original_id}", headers=admin_headers)).json()
    assert linked["resumedBy"] == resume_id
    assert linked["counts"] == original["counts"]  # the original keeps what it did
    resumed = await customers(database)

    # The two reports name each other (the original's is built again once its resume ends).
    assert (await report_summary(api, admin_headers, resume_id))["Resumes import"].startswith(
        original_id
    )

    async def original_names_its_resume() -> Any:
        summary = await report_summary(api, admin_headers, original_id)
        return summary.get("Resumed by import") == resume_id and summary

    summary = await wait_until(original_names_its_resume, "the original's report names it")
    assert summary["Cancelled"].endswith(f"were left to its resume, import {resume_id}")

    # Resumed once only; a completed import has nothing to resume.
    again = await api.post(f"/imports/{original_id}/resume", headers=admin_headers)
    assert again.status_code == 409 and resume_id in again.json()["detail"]
    completed = await api.post(f"/imports/{resume_id}/resume", headers=admin_headers)
    assert completed.status_code == 409

    # The audit trail has one import.resumed event, on the original, naming the resume.
    events = await api.get(
        "/audit-events", headers=admin_headers, params={"action": "import.resumed"}
    )
    assert [(e["target"], e["details"]["importId"]) for e in events.json()["items"]] == [
        ({"type": "import", "id": original_id}, resume_id)
    ]

    # The same file, imported without interruption on the same starting data.
    await db.client().drop_database(TEST_DATABASE)
    await db.initialise(database)
    await seed(api, admin_headers)
    config = {"deduplicationKeys": ["email"], "action": ACTION}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(HEADER, ROWS), config)
    )
    assert created.status_code == 202, created.text
    clean = await wait_for_job(api, created.json()["id"], admin_headers)
    assert clean["counts"] == added(original["counts"], resume["counts"])
    assert clean["counts"]["failed"] == 2 and clean["counts"]["updated"] == 4
    assert await customers(database) == resumed


async def test_only_a_cancelled_or_failed_import_is_resumed(api, database, admin_headers) -> None:
    job_id, _ = await held_import(HEADER, ROWS[:2], action=ACTION)
    running = await api.post(f"/imports/{job_id}/resume", headers=admin_headers)
    assert running.status_code == 409
    assert "only a cancelled or failed import can be resumed" in running.json()["detail"]
    unknown = await api.post("/imports/0123456789abcdef01234567/resume", headers=admin_headers)
    assert unknown.status_code == 404


async def test_retention_keeps_what_a_running_resume_reads(api, database, admin_headers) -> None:
    original_id = await cancelled_at_a_known_row(api, admin_headers)
    resume = await jobs.create_resume(original_id, ADMIN, RecordingDispatcher(), get_settings())
    long_ago = utcnow() - timedelta(days=30)
    jobs_collection = database["import_jobs"]
    await jobs_collection.update_one(
        {"_id": ObjectId(original_id)}, {"$set": {"finished_at": long_ago}}
    )
    retention = get_settings().model_copy(update={"report_retention_days": 1})

    assert await jobs.delete_expired_files(retention) == []  # its resume has not run yet
    await jobs.plan_job(str(resume.id), RecordingDispatcher(), get_settings())
    planned = await jobs.get_job(str(resume.id))
    assert planned.total_rows == len(ROWS) - (await jobs.get_job(original_id)).processed_rows

    await jobs.cancel_job(str(resume.id), ADMIN, RecordingDispatcher())  # finished: no longer held
    assert original_id in await jobs.delete_expired_files(retention)
