"""Undoing an import (POST /imports/{id}/revert) against the real services: customers it
inserted are deleted, customers it changed come back exactly (whole documents, and their
identifier claims), customers changed since are conflicts, and a revert is safe to repeat."""

from __future__ import annotations

import io
import os
from typing import Any

import httpx
from bson import ObjectId
from openpyxl import load_workbook

from config import get_settings
from store import jobs
from tests.helpers import (
    RecordingDispatcher,
    csv_bytes,
    held_import,
    import_form,
    wait_for_job,
)
from workers.backlog import RedisBacklog

HEADER = ["firstName", "lastName", "email", "phoneNumber", "city"]
SEED = [
    ["Ann", "Lee", "ann@example.com", "+12025550143", "Boston"],
    ["Bob", "Roe", "bob@example.com", "+14155550132", "Denver"],
    ["Cat", "Poe", "cat@example.com", "", "Austin"],
]
REPLACING = [
    ["Ann", "", "ann@example.com", "+12025550199", "Paris"],  # a phone replaced
    ["Bob", "Roe", "bob@example.com", "", ""],  # phone and city removed
    ["Dan", "New", "dan@example.com", "+12025550111", "Rome"],  # inserted
]


async def run_import(
    api: httpx.AsyncClient, headers: dict[str, str], rows: list[list[str]], action: str
) -> dict[str, Any]:
    config = {"deduplicationKeys": ["email"], "action": action}
    created = await api.post(
        "/imports", headers=headers, **import_form(csv_bytes(HEADER, rows), config)
    )
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], headers)
    assert job["status"] == "completed", job
    return job


async def revert(api: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await api.post(f"/imports/{job_id}/revert", headers=headers)
    assert response.status_code == 202, response.text
    reverted = await wait_for_job(api, response.json()["id"], headers)
    assert reverted["status"] == "completed", reverted
    return reverted


async def snapshot(database: Any) -> dict[str, list[dict[str, Any]]]:
    """Every customer, whole documents, and which customer each identifier value's claim
    names (not `w`, the writer that changed the claim last: bookkeeping of
    store.customers.claims)."""
    return {
        "customers": await database["customers"].find().sort("_id", 1).to_list(),
        "claims": await database["identifier_claims"]
        .find({}, {"c": 1, "n": 1})
        .sort("_id", 1)
        .to_list(),
    }


async def test_replace_then_revert_restores_every_profile_exactly(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    before = await snapshot(database)
    replaced = await run_import(api, admin_headers, REPLACING, "replace")
    assert (replaced["counts"]["updated"], replaced["counts"]["imported"]) == (2, 1)
    assert await snapshot(database) != before

    reverted = await revert(api, admin_headers, replaced["id"])

    assert await snapshot(database) == before
    assert reverted["kind"] == "revert" and reverted["revertOf"] == replaced["id"]
    assert reverted["revertCounts"] == {"total": 3, "deleted": 1, "restored": 2, "conflicts": 0}
    original = (await api.get(f"/imports/{replaced['id']}", headers=admin_headers)).json()
    assert (original["revertId"], original["revertedBy"]) == (reverted["id"], "admin")
    assert original["revertedAt"] is not None


async def test_a_customer_edited_after_the_import_is_a_conflict_and_keeps_the_edit(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    replaced = await run_import(api, admin_headers, REPLACING, "replace")
    edit = {
        "action": "append",
        "deduplicationKeys": ["email"],
        "customers": [{"firstName": "Ann", "email": ["ann@example.com"], "labels": ["vip"]}],
    }
    edited = await api.post("/customers/bulkCustomers", headers=admin_headers, json=edit)
    assert edited.json()["updatedCount"] == 1, edited.text
    ann = await database["customers"].find_one({"attributes.email": "ann@example.com"})

    reverted = await revert(api, admin_headers, replaced["id"])

    assert reverted["revertCounts"] == {"total": 3, "deleted": 1, "restored": 1, "conflicts": 1}
    assert await database["customers"].find_one({"_id": ann["_id"]}) == ann
    report = await api.get(f"/imports/{reverted['id']}/report", headers=admin_headers)
    assert report.status_code == 200, report.text
    sheet = load_workbook(io.BytesIO(report.content), read_only=True)["Conflicts"]
    rows = list(sheet.iter_rows(values_only=True))[1:]
    assert rows == [
        (str(ann["_id"]), "Changed after the import (by a bulk request); kept as it is")
    ]


async def test_reverting_twice_changes_nothing_the_second_time(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    updated = await run_import(api, admin_headers, REPLACING, "update")
    first = await revert(api, admin_headers, updated["id"])
    after_first = await snapshot(database)

    again = await api.post(f"/imports/{updated['id']}/revert", headers=admin_headers)
    assert again.status_code == 202
    assert again.json() == {"id": first["id"], "status": "completed"}
    # A redelivered revert message, as if the worker died just before recording the end.
    await database["import_jobs"].update_one(
        {"_id": ObjectId(first["id"])}, {"$set": {"status": "in_progress"}}
    )
    await jobs.run_revert(first["id"], get_settings())

    assert await snapshot(database) == after_first
    rerun = (await api.get(f"/imports/{first['id']}", headers=admin_headers)).json()
    assert rerun["status"] == "completed"
    assert rerun["revertCounts"] == first["revertCounts"]


async def test_reverting_a_cancelled_import_takes_back_what_it_wrote(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    before = await snapshot(database)
    # Its first batch changes Ann and inserts P0; the cancel stops the rest.
    rows = [REPLACING[0], ["P0", "T", "p0@example.com", "", ""]]
    rows += [[f"P{i}", "T", f"p{i}@example.com", "", ""] for i in range(1, 5)]
    job_id, batches = await held_import(HEADER, rows, batch_size=2)
    await jobs.process_batch(batches[0], RecordingDispatcher(), get_settings())
    cancelled = await api.post(f"/imports/{job_id}/cancel", headers=admin_headers)
    assert cancelled.json()["status"] == "cancelled"
    assert await database["customers"].count_documents({}) == len(SEED) + 1
    assert await snapshot(database) != before

    reverted = await revert(api, admin_headers, job_id)

    assert reverted["revertCounts"] == {"total": 2, "deleted": 1, "restored": 1, "conflicts": 0}
    assert await snapshot(database) == before


async def test_who_may_revert_and_what_cannot_be_reverted(api, database, admin_headers) -> None:
    keys = {}
    for name in ("first", "second"):
        created = await api.post(
            "/api-keys", headers=admin_headers, json={"name": name, "role": "importer"}
        )
        keys[name] = {"Authorization": f"Bearer {created.json()['key']}"}
    config = {"deduplicationKeys": ["email"], "action": "ignore", "dryRun": True}
    created = await api.post(
        "/imports", headers=keys["first"], **import_form(csv_bytes(HEADER, SEED), config)
    )
    job_id = created.json()["id"]

    other = await api.post(f"/imports/{job_id}/revert", headers=keys["second"])
    assert other.status_code == 403
    assert "created the import" in other.json()["detail"]
    running = await api.post(f"/imports/{job_id}/revert", headers=keys["first"])
    assert running.status_code == 409
    assert "cancel it or let it finish" in running.json()["detail"]  # pending or started
    missing = await api.post("/imports/000000000000000000000000/revert", headers=admin_headers)
    assert missing.status_code == 404


async def test_the_pre_image_is_the_state_before_the_import_first_touched_the_customer(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    before = await snapshot(database)
    ann_email, ann_phone = SEED[0][2], SEED[0][3]
    # Two rows that reach Ann through different identifiers: planning puts them in one batch
    # (store.jobs.holders), which changes her twice.
    rows = [["Ann", "", ann_email, "", "Paris"], ["Ann", "", "", ann_phone, "Rome"]]
    job_id, batches = await held_import(HEADER, rows, "append", ("email", "phoneNumber"))
    assert len(batches) == 1
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    # The first batch delivered again, as if its worker died before recording its results.
    await database["import_batches"].update_one(
        {"_id": batches[0]}, {"$set": {"status": "pending"}}
    )
    await jobs.process_batch(batches[0], RecordingDispatcher(), get_settings())
    await jobs.finalize_job(job_id, get_settings())
    ann = await database["customers"].find_one({"_id": before["customers"][0]["_id"]})
    assert ann["attributes"]["city"] != "Boston"

    stored = await database["import_preimages"].find().to_list()
    assert [p["before"] for p in stored] == before["customers"][:1]
    reverted = await revert(api, admin_headers, job_id)
    assert reverted["revertCounts"] == {"total": 1, "deleted": 0, "restored": 1, "conflicts": 0}
    assert await snapshot(database) == before


async def test_a_value_the_import_removed_and_another_customer_took_is_a_conflict(
    api, database, worker, admin_headers
) -> None:
    await run_import(api, admin_headers, SEED, "ignore")
    replaced = await run_import(api, admin_headers, REPLACING, "replace")  # Bob loses his phone
    bob_phone = SEED[1][3]
    taken = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [
            {"firstName": "Zed", "email": ["zed@example.com"], "phoneNumber": [bob_phone]}
        ],
    }
    assert (await api.post("/customers/bulkCustomers", headers=admin_headers, json=taken)).json()[
        "insertedCount"
    ] == 1
    zed = await database["customers"].find_one({"attributes.email": "zed@example.com"})
    bob = await database["customers"].find_one({"attributes.email": "bob@example.com"})

    reverted = await revert(api, admin_headers, replaced["id"])

    assert reverted["revertCounts"] == {"total": 3, "deleted": 1, "restored": 1, "conflicts": 1}
    assert await database["customers"].find_one({"_id": bob["_id"]}) == bob
    claim = await database["identifier_claims"].find_one({"_id": f"phoneNumber:{bob_phone}"})
    assert claim["c"] == str(zed["_id"])
    report = await api.get(f"/imports/{reverted['id']}/report", headers=admin_headers)
    sheet = load_workbook(io.BytesIO(report.content), read_only=True)["Conflicts"]
    assert list(sheet.iter_rows(values_only=True))[1:] == [
        (
            str(bob["_id"]),
            f"Its phoneNumber {bob_phone} now belongs to customer {zed['_id']}; kept as it is",
        )
    ]


async def test_a_stalled_revert_is_driven_again_and_a_failed_one_runs_again_when_asked(
    api, database, admin_headers
) -> None:
    from datetime import timedelta

    from store.documents import Role, utcnow
    from store.jobs.steps import REVERT
    from store.principal import Principal

    job_id, batches = await held_import(HEADER, SEED)
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    await jobs.finalize_job(job_id, get_settings())
    held = RecordingDispatcher()
    revert_job = await jobs.start_revert(job_id, Principal("admin", Role.ADMIN, "test"), held)
    assert held.reverts == [str(revert_job.id)]
    # A worker took the revert and died: its lease ran out.
    await database["import_jobs"].update_one(
        {"_id": revert_job.id},
        {"$set": {REVERT.lease: utcnow() - timedelta(seconds=1)}},
    )
    swept = RecordingDispatcher()
    backlog = RedisBacklog(os.environ["REDIS_URL"], lease_seconds=15)
    driven = await jobs.drive_unfinished(swept, backlog)
    assert [(d.job_id, d.step) for d in driven] == [(str(revert_job.id), "revert")]
    assert swept.reverts == [str(revert_job.id)] and swept.plans == []

    await database["import_jobs"].update_one(
        {"_id": revert_job.id}, {"$set": {"status": "failed", "error": "worker lost"}}
    )
    again = await api.post(f"/imports/{job_id}/revert", headers=admin_headers)
    assert again.json() == {"id": str(revert_job.id), "status": "pending"}
    # The POST sent the revert to the shared Redis: a session worker started by an earlier
    # test may take it first (then this run finds its lease held); either way it completes.
    await jobs.run_revert(str(revert_job.id), get_settings())
    done = await wait_for_job(api, str(revert_job.id), admin_headers)
    assert (done["status"], done["error"]) == ("completed", None)
    assert done["revertCounts"] == {"total": 3, "deleted": 3, "restored": 0, "conflicts": 0}
    assert await database["customers"].count_documents({}) == 0


async def test_a_revert_in_many_chunks_at_once_restores_exactly_and_counts_each_customer(
    api, database, admin_headers, monkeypatch
) -> None:
    """Chunks of 3 customers, four at a time (store.jobs.revert), over 40 customers: 20 the
    import replaced, 20 it inserted."""
    from store.documents import Role
    from store.jobs import revert as reverting
    from store.principal import Principal

    monkeypatch.setattr(reverting, "CHUNK", 3)
    seed = [[f"S{n}", "Old", f"s{n}@example.com", f"+1202555{n:04d}", "Boston"] for n in range(20)]
    seeding, batches = await held_import(HEADER, seed, action="ignore", batch_size=7)
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    await jobs.finalize_job(seeding, get_settings())
    before = await snapshot(database)
    rows = [[f"S{n}", "New", f"s{n}@example.com", f"+1303555{n:04d}", ""] for n in range(20)]
    rows += [[f"N{n}", "New", f"n{n}@example.com", f"+1404555{n:04d}", "Rome"] for n in range(20)]
    job_id, batches = await held_import(HEADER, rows, action="replace", batch_size=7)
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    await jobs.finalize_job(job_id, get_settings())

    revert_job = await jobs.start_revert(
        job_id, Principal("admin", Role.ADMIN, "test"), RecordingDispatcher()
    )
    await jobs.run_revert(str(revert_job.id), get_settings())

    assert await snapshot(database) == before
    done = (await api.get(f"/imports/{revert_job.id}", headers=admin_headers)).json()
    assert done["revertCounts"] == {"total": 40, "deleted": 20, "restored": 20, "conflicts": 0}
    assert done["progress"]["processedRows"] == 40
