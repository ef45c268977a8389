"""An import job's whole life through the real workers (no mock of MongoDB or Redis): each
status, listing, a completion step delivered twice, a batch that always fails, messages lost
with Redis and the recovery sweeper. Every test ends with exact counts read from the API and
checked against the database.

Where a test must decide when the workers get a message, it creates or plans the job with the
real services and a RecordingDispatcher, then sends the recorded messages itself through the
real actors."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId

from config import get_settings
from domain.import_config import ImportConfig
from stack.processes import Child, stop_all
from store import jobs
from store.customers import claims, writers
from store.documents import pack, unpack
from tests.helpers import (
    RecordingDispatcher,
    csv_bytes,
    import_form,
    import_queue_backlog,
    summary_counts,
    wait_for_idle_queue,
    wait_for_job,
    wait_until,
)
from workers import actors
from workers.queues import IMPORT_QUEUES

REDIS_URL = os.environ["REDIS_URL"]
HEADER = ["firstName", "lastName", "email"]
ZERO = {"total": 0, "imported": 0, "updated": 0, "ignored": 0, "failed": 0}


def people(count: int, start: int = 0) -> list[list[str]]:
    return [[f"Person{i}", "Tester", f"person{i}@example.com"] for i in range(start, start + count)]


def config(batch_size: int | None = None, **extra: Any) -> dict[str, Any]:
    chosen: dict[str, Any] = {"deduplicationKeys": ["email"], "action": "ignore", **extra}
    if batch_size is not None:
        chosen["batchSize"] = batch_size
    return chosen


def when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


@pytest.fixture(autouse=True)
async def idle_queue() -> AsyncIterator[None]:
    """Each test starts and leaves the import queue empty, so no message of one test reaches
    the next test's (dropped and re-created) database."""
    await wait_for_idle_queue(REDIS_URL)
    yield
    await wait_for_idle_queue(REDIS_URL)


async def create_held_job(
    content: bytes, chosen: dict[str, Any]
) -> tuple[str, RecordingDispatcher]:
    """A job created by the real service whose planning message is recorded, not sent."""
    dispatcher = RecordingDispatcher()
    job = await jobs.create_job(
        io.BytesIO(content),
        "held.csv",
        ImportConfig.model_validate(chosen),
        "tests",
        dispatcher,
        get_settings(),
    )
    assert dispatcher.plans == [str(job.id)]
    return str(job.id), dispatcher


async def plan_held_job(job_id: str) -> list[str]:
    """Plan with the real service; returns the batch ids it asked to send, in order."""
    dispatcher = RecordingDispatcher()
    await jobs.plan_job(job_id, dispatcher, get_settings())
    assert dispatcher.finalizes == []
    return dispatcher.batches


async def get(api: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.get(f"/imports/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def batch_statuses(database: Any, job_id: str) -> dict[str, int]:
    found: dict[str, int] = {}
    async for batch in database["import_batches"].find({"job_id": job_id}, {"status": 1}):
        found[batch["status"]] = found.get(batch["status"], 0) + 1
    return found


async def rows_in_batches(database: Any, job_id: str, status: str) -> int:
    total = 0
    async for batch in database["import_batches"].find(
        {"job_id": job_id, "status": status}, {"row_count": 1}
    ):
        total += batch["row_count"]
    return total


async def assert_no_duplicate_customers(database: Any) -> None:
    duplicates = await database["customers"].aggregate(
        [
            {"$unwind": "$attributes.email"},
            {"$group": {"_id": "$attributes.email", "n": {"$sum": 1}}},
            {"$match": {"n": {"$gt": 1}}},
        ]
    )
    assert [d async for d in duplicates] == []


# --- each status --------------------------------------------------------------------------


async def test_a_pending_job_counts_every_row_of_a_file_longer_than_the_sample(
    api, database, admin_headers
) -> None:
    """The upload's check reads a sample for the mapping, then the rest of the file: the
    count (progress, the row limit, planning's choice of claim reads) is of every row."""
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(45)), config())
    pending = await get(api, job_id, admin_headers)
    assert pending["progress"] == {"processedRows": 0, "totalRows": 45}


async def test_pending_job_waits_for_its_planning_then_completes(
    api, database, worker, admin_headers
) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(5)), config(batch_size=2))

    pending = await get(api, job_id, admin_headers)
    assert pending["status"] == "pending"
    assert pending["progress"] == {"processedRows": 0, "totalRows": 5}
    assert pending["counts"] == ZERO
    assert (pending["startedAt"], pending["finishedAt"], pending["error"]) == (None, None, None)
    assert await database["import_batches"].count_documents({"job_id": job_id}) == 0
    assert await database["customers"].count_documents({}) == 0

    actors.plan_import.send(job_id)  # the message the API would have sent
    job = await wait_for_job(api, job_id, admin_headers, timeout=30)
    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": 5, "imported": 5}
    assert job["progress"] == {"processedRows": 5, "totalRows": 5}
    assert job["error"] is None
    assert when(job["createdAt"]) <= when(job["startedAt"]) <= when(job["finishedAt"])
    assert await batch_statuses(database, job_id) == {"done": 3}
    assert await database["customers"].count_documents({}) == 5


async def test_progress_moves_batch_by_batch(api, database, worker, admin_headers) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(9)), config(batch_size=3))
    batches = await plan_held_job(job_id)
    assert len(batches) == 3

    planned = await get(api, job_id, admin_headers)
    assert planned["status"] == "in_progress"
    assert planned["progress"] == {"processedRows": 0, "totalRows": 9}
    assert planned["startedAt"] is not None and planned["finishedAt"] is None

    for done, batch_id in enumerate(batches, start=1):
        actors.process_batch.send(batch_id)

        async def processed(expected: int = 3 * done) -> dict[str, Any] | None:
            job = await get(api, job_id, admin_headers)
            return job if job["progress"]["processedRows"] == expected else None

        job = await wait_until(processed, f"{3 * done} rows processed")
        assert job["progress"]["totalRows"] == 9
        assert job["startedAt"] == planned["startedAt"]
        if done < len(batches):
            assert job["status"] == "in_progress", job
            assert job["finishedAt"] is None
            assert await database["customers"].count_documents({}) == 3 * done

    job = await wait_for_job(api, job_id, admin_headers, timeout=30)
    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": 9, "imported": 9}
    assert job["progress"] == {"processedRows": 9, "totalRows": 9}
    assert await database["customers"].count_documents({}) == 9


async def test_completed_job_counts_every_outcome_and_cannot_be_cancelled(
    api, database, worker, admin_headers
) -> None:
    existing = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={
            "action": "append",
            "deduplicationKeys": ["email"],
            "customers": [{"firstName": "Old", "email": ["person1@example.com"]}],
        },
    )
    assert existing.status_code == 200 and existing.json()["insertedCount"] == 1, existing.text
    rows = [
        *people(4),  # person1 exists: ignored
        ["Bad", "Email", "not-an-email@"],
        ["", "Nameless", "nameless@example.com"],
        *people(2, start=10),
    ]
    response = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(HEADER, rows), config(2))
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    job = await wait_for_job(api, job_id, admin_headers, timeout=30)
    assert job["status"] == "completed", job
    expected = {"total": 8, "imported": 5, "updated": 0, "ignored": 1, "failed": 2}
    assert job["counts"] == expected
    assert job["progress"] == {"processedRows": 8, "totalRows": 8}
    assert job["error"] is None
    assert when(job["startedAt"]) <= when(job["finishedAt"])
    assert await database["customers"].count_documents({}) == 1 + 5
    report = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert report.status_code == 200
    summary = summary_counts(report.content)
    assert [summary[k] for k in ("Total Records", "Imported", "Ignored", "Failed")] == [8, 5, 1, 2]

    refused = await api.post(f"/imports/{job_id}/cancel", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"Import {job_id} is completed; only pending or running imports can be cancelled"
    )
    assert await get(api, job_id, admin_headers) == job


async def test_cancel_mid_job_stops_the_remaining_batches(
    api, database, worker, admin_headers
) -> None:
    rows = 240
    response = await api.post(
        "/imports",
        headers=admin_headers,
        **import_form(csv_bytes(HEADER, people(rows)), config(batch_size=2)),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    async def running() -> bool:
        job = await get(api, job_id, admin_headers)
        return job["status"] == "in_progress" and job["progress"]["processedRows"] >= 4

    await wait_until(running, "the import is running", timeout=30, interval=0.02)
    cancelled = await api.post(f"/imports/{job_id}/cancel", headers=admin_headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    finished_at = cancelled.json()["finishedAt"]
    assert finished_at is not None
    await wait_for_idle_queue(REDIS_URL)

    async def settled() -> dict[str, Any]:
        """Job, batches and customers, once the job's counts agree with its batches."""
        return {
            "job": await get(api, job_id, admin_headers),
            "batches": await batch_statuses(database, job_id),
            "done rows": await rows_in_batches(database, job_id, "done"),
            "customers": await database["customers"].count_documents({}),
        }

    state = await settled()
    job = state["job"]
    assert job["status"] == "cancelled", job
    assert job["finishedAt"] == finished_at
    assert state["batches"].get("pending", 0) > 0, f"finished before the cancel: {state}"
    assert set(state["batches"]) <= {"done", "pending"}, state
    # The rows of the batches done before the cancel are written and counted; no others.
    assert job["progress"] == {"processedRows": state["done rows"], "totalRows": rows}
    assert job["counts"] == {**ZERO, "total": state["done rows"], "imported": state["done rows"]}
    assert state["customers"] == state["done rows"]

    # The report of what it did: built once the running batches stopped; it stays cancelled.
    async def reported() -> Any:
        answer = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
        return answer if answer.status_code == 200 else None

    report = await wait_until(reported, "the cancelled import's report", timeout=30)
    summary = summary_counts(report.content)
    assert summary["Imported"] == summary["Total Records"] == state["done rows"]
    assert summary["Cancelled"] == (
        f"{state['done rows']:,} of {rows:,} rows processed; the other "
        f"{rows - state['done rows']:,} were not imported"
    )
    failed_rows = await api.get(f"/imports/{job_id}/failed-rows.csv", headers=admin_headers)
    assert failed_rows.status_code == 200
    state["job"] = await get(api, job_id, admin_headers)
    assert state["job"]["status"] == "cancelled"

    # Late messages for the job (a redelivery, the sweeper) process nothing more.
    pending_ids = [
        b["_id"]
        async for b in database["import_batches"].find({"job_id": job_id, "status": "pending"})
    ]
    for batch_id in pending_ids:
        actors.process_batch.send(batch_id)
    actors.finalize_import.send(job_id)
    actors.plan_import.send(job_id)
    await wait_for_idle_queue(REDIS_URL)
    assert await settled() == state

    again = await api.post(f"/imports/{job_id}/cancel", headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"Import {job_id} is cancelled; only pending or running imports can be cancelled"
    )


async def test_cancelled_pending_job_is_never_planned(api, database, worker, admin_headers) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(3)), config())
    cancelled = await api.post(f"/imports/{job_id}/cancel", headers=admin_headers)
    assert cancelled.status_code == 200, cancelled.text
    actors.plan_import.send(job_id)  # the planning message arrives after the cancel
    await wait_for_idle_queue(REDIS_URL)

    job = await get(api, job_id, admin_headers)
    assert job["status"] == "cancelled"
    assert job["startedAt"] is None and job["finishedAt"] == cancelled.json()["finishedAt"]
    assert job["progress"] == {"processedRows": 0, "totalRows": 3}
    assert job["counts"] == ZERO
    assert await database["import_batches"].count_documents({"job_id": job_id}) == 0
    assert await database["customers"].count_documents({}) == 0


# --- listing ------------------------------------------------------------------------------


async def test_list_is_newest_first_with_status_filter_and_paging(
    api, database, worker, admin_headers
) -> None:
    response = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(HEADER, people(2)), config())
    )
    assert response.status_code == 202
    completed = response.json()["id"]
    assert (await wait_for_job(api, completed, admin_headers))["status"] == "completed"
    created = [completed]
    for _ in range(3):
        job_id, _ = await create_held_job(csv_bytes(HEADER, people(2)), config())
        created.append(job_id)
    cancelled = created[2]
    assert (await api.post(f"/imports/{cancelled}/cancel", headers=admin_headers)).is_success
    newest_first = created[::-1]

    async def listed(**params: Any) -> tuple[list[str], int]:
        response = await api.get("/imports", params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        return [job["id"] for job in body["items"]], body["total"]

    assert await listed() == (newest_first, 4)
    everything = (await api.get("/imports", headers=admin_headers)).json()["items"]
    created_at = [when(job["createdAt"]) for job in everything]
    assert created_at == sorted(created_at, reverse=True)
    assert await listed(limit=2) == (newest_first[:2], 4)
    assert await listed(limit=2, offset=2) == (newest_first[2:], 4)
    assert await listed(limit=3, offset=3) == (newest_first[3:], 4)
    assert await listed(offset=4) == ([], 4)
    assert await listed(status="pending") == ([created[3], created[1]], 2)
    assert await listed(status="pending", limit=1, offset=1) == ([created[1]], 2)
    assert await listed(status="cancelled") == ([cancelled], 1)
    assert await listed(status="completed") == ([completed], 1)
    assert await listed(status="in_progress") == ([], 0)
    assert (await api.get("/imports?status=done", headers=admin_headers)).status_code == 400
    assert (await api.get("/imports?limit=0", headers=admin_headers)).status_code == 400

    # Uploads in the same millisecond (several API replicas): pages still never overlap,
    # newest (highest id) first.
    await database["import_jobs"].update_many({}, {"$set": {"created_at": datetime.now(UTC)}})
    pages = [(await listed(limit=1, offset=n))[0] for n in range(4)]
    assert [job for page in pages for job in page] == newest_first


# --- the completion step delivered more than once -----------------------------------------


async def test_completion_delivered_several_times_finishes_once(
    api, database, worker, admin_headers
) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(6)), config(batch_size=2))
    batches = await plan_held_job(job_id)
    recorder = RecordingDispatcher()
    for batch_id in batches:  # the batch work itself, by the real service
        await jobs.process_batch(batch_id, recorder, get_settings())
    assert recorder.finalizes == [job_id]
    assert (await get(api, job_id, admin_headers))["status"] == "in_progress"

    for _ in range(3):  # three deliveries at once to two worker processes × two threads
        actors.finalize_import.send(job_id)
    job = await wait_for_job(api, job_id, admin_headers, timeout=30)
    await wait_for_idle_queue(REDIS_URL)

    async def reports() -> list[Any]:
        cursor = database["reports.files"].find({"metadata.jobId": job_id})
        return [doc["_id"] async for doc in cursor]

    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": 6, "imported": 6}
    assert job["progress"] == {"processedRows": 6, "totalRows": 6}
    stored = await database["import_jobs"].find_one({"_id": ObjectId(job_id)})
    assert len(await reports()) == 1
    assert stored["report_file_id"] == (await reports())[0]

    for _ in range(2):  # and twice more once it is complete
        actors.finalize_import.send(job_id)
    await wait_for_idle_queue(REDIS_URL)
    assert await get(api, job_id, admin_headers) == job  # finishedAt not rewritten
    assert len(await reports()) == 1
    assert await database["customers"].count_documents({}) == 6
    report = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert summary_counts(report.content)["Imported"] == 6


# --- a batch that fails on every delivery -------------------------------------------------


async def test_batches_that_always_fail_end_the_job_failed(
    api, database, worker, admin_headers
) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(10)), config(batch_size=2))
    batches = await plan_held_job(job_id)
    assert len(batches) == 5
    collection = database["import_batches"]
    stored_rows = {
        b["_id"]: unpack(b["packed_rows"]) async for b in collection.find({"job_id": job_id})
    }
    numbers = {batch_id: [r["number"] for r in rows] for batch_id, rows in stored_rows.items()}
    # The rows a person finds in the file: spreadsheet rows (the header is row 1).
    sheet_rows = {batch_id: [r["line"] for r in rows] for batch_id, rows in stored_rows.items()}
    poisoned, unreadable = batches[1], batches[3]
    # A value of a shape the resolver cannot handle: processing raises on every delivery.
    rows = stored_rows[poisoned]
    rows[0]["values"]["email"] = {"unexpected": "shape"}
    await collection.update_one({"_id": poisoned}, {"$set": {"packed_rows": pack(rows)}})
    # A batch document whose rows no longer read as rows at all.
    rows = [{**row, "values": "corrupt"} for row in stored_rows[unreadable]]
    await collection.update_one({"_id": unreadable}, {"$set": {"packed_rows": pack(rows)}})

    for batch_id in batches:
        actors.process_batch.send(batch_id)
    # Five deliveries with Dramatiq's backoff (0.5 s doubling, jittered) take under 20 s.
    job = await wait_for_job(api, job_id, admin_headers, timeout=60)

    assert job["status"] == "failed", job
    assert job["counts"] == {**ZERO, "total": 10, "imported": 6, "failed": 4}
    assert job["progress"] == {"processedRows": 10, "totalRows": 10}
    error = job["error"]
    assert error is not None and error.startswith("2 of 5 batches could not be processed"), error
    for batch_id in (poisoned, unreadable):
        first, last = sheet_rows[batch_id][0], sheet_rows[batch_id][-1]
        assert f"rows {first}–{last}" in error, error
    assert "TypeError" in error and "unreadable" in error, error
    assert await database["customers"].count_documents({}) == 6
    assert await batch_statuses(database, job_id) == {"done": 3, "failed": 2}
    for batch_id in (poisoned, unreadable):
        batch = await collection.find_one({"_id": batch_id})
        assert batch["attempts"] == jobs.MAX_ATTEMPTS
        results = unpack(batch["packed_results"])
        assert [r["number"] for r in results] == numbers[batch_id]
        assert {r["outcome"] for r in results} == {"failed"}
        assert all(r["reason"].startswith("Not processed:") for r in results)

    report = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert report.status_code == 200
    summary = summary_counts(report.content)
    assert [summary[k] for k in ("Total Records", "Imported", "Failed")] == [10, 6, 4]
    failed_csv = await api.get(f"/imports/{job_id}/failed-rows.csv", headers=admin_headers)
    assert failed_csv.status_code == 200
    lines = failed_csv.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 4
    assert all("Not processed:" in line for line in lines[1:])


async def test_planning_or_completion_that_always_fails_ends_the_job_failed(
    api, database, worker, admin_headers
) -> None:
    from store import files

    # Planning: the uploaded file is gone from storage before the workers read it.
    unplannable, _ = await create_held_job(csv_bytes(HEADER, people(4)), config())
    stored = await database["import_jobs"].find_one({"_id": ObjectId(unplannable)})
    await files.uploads().delete(stored["file_id"])
    # Completion: every row is processed, but the report storage refuses every write.
    unreportable, _ = await create_held_job(csv_bytes(HEADER, people(6)), config(batch_size=3))
    for batch_id in await plan_held_job(unreportable):
        await jobs.process_batch(batch_id, RecordingDispatcher(), get_settings())
    await database.create_collection(
        "reports.chunks", validator={"$jsonSchema": {"required": ["refused"]}}
    )

    actors.plan_import.send(unplannable)
    actors.finalize_import.send(unreportable)
    # Five deliveries each, side by side, with Dramatiq's backoff: well under 30 s.
    not_planned = await wait_for_job(api, unplannable, admin_headers, timeout=60)
    not_reported = await wait_for_job(api, unreportable, admin_headers, timeout=60)

    assert not_planned["status"] == "failed", not_planned
    assert not_planned["error"] == (
        f"The import could not start after {jobs.MAX_ATTEMPTS} attempts: "
        "the uploaded file is no longer stored"
    )
    assert not_planned["counts"] == ZERO
    assert not_planned["progress"] == {"processedRows": 0, "totalRows": 4}
    assert not_planned["startedAt"] is None and not_planned["finishedAt"] is not None
    assert await database["import_batches"].count_documents({"job_id": unplannable}) == 0

    assert not_reported["status"] == "failed", not_reported
    error = not_reported["error"]
    assert error.startswith(
        "Every row was processed, but the results report could not be built after "
        f"{jobs.MAX_ATTEMPTS} attempts: "
    ), error
    assert "Document failed validation" in error, error
    assert not_reported["counts"] == {**ZERO, "total": 6, "imported": 6}
    assert not_reported["progress"] == {"processedRows": 6, "totalRows": 6}
    assert when(not_reported["startedAt"]) <= when(not_reported["finishedAt"])
    assert await database["customers"].count_documents({}) == 6
    report = await api.get(f"/imports/{unreportable}/report", headers=admin_headers)
    assert report.status_code == 409


async def test_a_batch_whose_values_another_writer_holds_waits_instead_of_failing(
    api, database, worker, admin_headers
) -> None:
    existing = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={
            "action": "append",
            "deduplicationKeys": ["email"],
            "customers": [{"firstName": "Old", "email": ["person0@example.com"]}],
        },
    )
    assert existing.status_code == 200, existing.text
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(1)), config(action="update"))
    [batch_id] = await plan_held_job(job_id)
    batches = database["import_batches"]

    async def attempts() -> int:
        batch = await batches.find_one({"_id": batch_id})
        return int(batch["attempts"])

    # Another writer (a concurrent import's batch, alive and holding its lease) is changing
    # the customer's email right now: its claim names that writer.
    other = f"{ObjectId()}-bulk"
    await writers.hold(other, lease_seconds=3600)
    claimed = await database[claims.COLLECTION].update_one(
        {"_id": "email:person0@example.com"}, {"$set": {"w": other}}
    )
    assert claimed.modified_count == 1
    try:
        actors.process_batch.send(batch_id)

        async def past_the_usual_limit() -> bool:
            return await attempts() > jobs.MAX_ATTEMPTS

        # One message, retried by Dramatiq (0.5 s backoff, doubling): each delivery meets the
        # held value and gives way; more of them than a failing batch would get.
        await wait_until(past_the_usual_limit, "deliveries of the batch", timeout=60)
        assert (await batch_statuses(database, job_id)) == {"pending": 1}
    finally:
        await writers.finish(other)  # the other writer is done

    job = await wait_for_job(api, job_id, admin_headers, timeout=45)
    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": 1, "updated": 1}
    assert job["progress"] == {"processedRows": 1, "totalRows": 1}
    assert await attempts() > jobs.MAX_ATTEMPTS
    customer = await database["customers"].find_one({"attributes.email": "person0@example.com"})
    assert customer["attributes"]["lastName"] == "Tester"  # the row's update
    assert customer["attributes"]["firstName"] == "Old"  # update fills empty fields only
    assert await database["customers"].count_documents({}) == 1


# --- recovery: messages lost with Redis ---------------------------------------------------


def start_sweeper(workdir: Path) -> Child:
    env = {**os.environ, "RECOVERY_CHECK_SECONDS": "1"}
    return Child(
        "sweeper",
        [sys.executable, "-m", "wiring.sweeper"],
        env,
        workdir / "sweeper.log",
    ).start()


async def start_running_import(api: Any, headers: dict[str, str], rows: int) -> str:
    """An import of `rows` one-row batches, returned once the workers are into it."""
    response = await api.post(
        "/imports",
        headers=headers,
        **import_form(csv_bytes(HEADER, people(rows)), config(batch_size=1)),
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]

    async def running() -> bool:
        job = await get(api, job_id, headers)
        return job["progress"]["processedRows"] >= 3

    await wait_until(running, "the import is running", timeout=30, interval=0.02)
    return job_id


async def assert_completed_by_the_sweeper(
    api: Any, database: Any, headers: dict[str, str], workdir: Path, job_id: str, rows: int
) -> None:
    """The real recovery sweeper drives the job to the end, with exact counts."""
    sweeper = start_sweeper(workdir)
    try:
        job = await wait_for_job(api, job_id, headers, timeout=60)
    finally:
        stop_all([sweeper])
    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": rows, "imported": rows}
    assert job["progress"] == {"processedRows": rows, "totalRows": rows}
    assert await batch_statuses(database, job_id) == {"done": rows}
    assert await database["customers"].count_documents({}) == rows
    await assert_no_duplicate_customers(database)


async def test_lost_messages_are_driven_again_by_the_sweeper(
    api, database, worker, admin_headers, workdir
) -> None:
    import redis

    rows = 200
    job_id = await start_running_import(api, admin_headers, rows)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushall()  # Redis restarted without persistence: every queued message is gone
    client.close()
    pending = (await batch_statuses(database, job_id)).get("pending", 0)
    # More batches left than the workers can hold (in flight or prefetched): some are lost.
    assert pending > 20, f"the import was nearly done before the flush: {pending} pending"
    assert import_queue_backlog(REDIS_URL) == 0

    await assert_completed_by_the_sweeper(api, database, admin_headers, workdir, job_id, rows)
    log = (workdir / "sweeper.log").read_text()
    assert f"drove again: {job_id} batch" in log, log[-2000:]
    assert "(message lost)" in log, log[-2000:]
    report = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert summary_counts(report.content)["Imported"] == rows


def requeue_messages_of_dead_workers(dead_after_ms: int = 5000) -> None:
    """Dramatiq's own maintenance, run now with a short heartbeat timeout: the messages a
    killed worker process had fetched go back to the queue (its live peers only do this
    after a minute)."""
    from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=REDIS_URL, heartbeat_timeout=dead_after_ms, maintenance_chance=MAINTENANCE_SCALE
    )
    try:
        for queue in IMPORT_QUEUES:
            broker.do_qsize(queue)
    finally:
        broker.close()


async def test_workers_killed_mid_batch_are_recovered(
    api, database, worker, admin_headers, workdir
) -> None:
    import signal

    rows = 200
    job_id = await start_running_import(api, admin_headers, rows)
    assert worker.proc is not None
    try:
        # Every worker process dies at once in the middle of its batches (SIGKILL: a lost
        # machine or container); whatever runs the workers starts them again.
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=30)
        # A killed batch's claims name the batch itself: its next delivery takes them up.
        pending = (await batch_statuses(database, job_id)).get("pending", 0)
        assert pending > 20, f"the import was nearly done before the kill: {pending} pending"
    finally:
        worker.stop()  # reaps anything left of its process group
        worker.start()  # the session's worker, for the tests that follow

    await assert_completed_by_the_sweeper(api, database, admin_headers, workdir, job_id, rows)

    async def orphans_requeued() -> bool:
        requeue_messages_of_dead_workers()
        return import_queue_backlog(REDIS_URL) == 0

    await wait_until(orphans_requeued, "the killed workers' messages requeued", interval=0.5)


async def _set_attempts(job_id: str, field: str, value: int) -> None:
    from store.documents import ImportJob

    await ImportJob.get_pymongo_collection().update_one(
        {"_id": ObjectId(job_id)}, {"$set": {field: value}}
    )


async def test_planning_that_kills_its_worker_every_time_still_ends_the_job(
    api, worker, admin_headers
) -> None:
    """Five deliveries of planning that started and never finished (their worker died: no
    exception, nothing caught) are on record; the next delivery ends the job failed."""
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(4)), config())
    await _set_attempts(job_id, "plan_attempts", jobs.MAX_ATTEMPTS)

    actors.dispatcher.plan(job_id)
    job = await wait_for_job(api, job_id, admin_headers)

    assert job["status"] == "failed", job
    assert job["error"] == (
        f"Planning the import stopped midway {jobs.MAX_ATTEMPTS} times (the "
        "worker process ended while working on it, e.g. out of memory); giving up"
    )
    assert job["counts"] == ZERO


async def test_planning_delivered_again_after_it_finished_never_fails_the_job(
    api, worker, admin_headers
) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(4)), config(batch_size=2))
    batches = await plan_held_job(job_id)
    await _set_attempts(job_id, "plan_attempts", 3 * jobs.MAX_ATTEMPTS)

    actors.dispatcher.plan(job_id)  # a late duplicate: it sends the unfinished batches
    job = await wait_for_job(api, job_id, admin_headers)

    assert len(batches) == 2
    assert job["status"] == "completed", job
    assert job["counts"] == {**ZERO, "total": 4, "imported": 4}


async def test_completion_that_kills_its_worker_every_time_still_ends_the_job(
    api, worker, admin_headers
) -> None:
    job_id, _ = await create_held_job(csv_bytes(HEADER, people(3)), config())
    for batch_id in await plan_held_job(job_id):
        await jobs.process_batch(batch_id, RecordingDispatcher(), get_settings())
    await _set_attempts(job_id, "finalize_attempts", jobs.MAX_ATTEMPTS)

    actors.dispatcher.finalize(job_id)
    job = await wait_for_job(api, job_id, admin_headers)

    assert job["status"] == "failed", job
    assert job["error"].startswith(
        "Every row was processed, but building the report stopped midway 5 times"
    )
    assert job["counts"] == {**ZERO, "total": 3, "imported": 3}
    assert job["progress"] == {"processedRows": 3, "totalRows": 3}
