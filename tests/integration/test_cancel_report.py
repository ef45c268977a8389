"""A cancelled import's report, against the real services: it comes however the cancel meets
the completion (before it, or while it builds the report), and when the message that asks
for it is lost or its worker died, the recovery check asks again, a bounded number of times."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId

from config import get_settings
from store import jobs, reports
from store.documents import Role, utcnow
from store.jobs import leases, policy
from store.principal import Principal
from tests.helpers import RecordingDispatcher, held_import, summary_counts
from workers.backlog import RedisBacklog

HEADER = ["firstName", "email"]
ADMIN = Principal("admin", Role.ADMIN, "test")
ROWS = [[f"C{n}", f"c{n}@example.com"] for n in range(6)]


async def cancelled_midway(api: Any, headers: dict[str, str]) -> str:
    """An import of three batches cancelled after its first; the message asking for its
    report is lost (recorded, never sent)."""
    job_id, batches = await held_import(HEADER, ROWS, batch_size=2)
    await jobs.process_batch(batches[0], RecordingDispatcher(), get_settings())
    lost = RecordingDispatcher()
    await jobs.cancel_job(job_id, ADMIN, lost)
    assert lost.finalizes == [job_id]
    refused = await api.get(f"/imports/{job_id}/report", headers=headers)
    assert refused.status_code == 409
    assert (await api.get(f"/imports/{job_id}", headers=headers)).json()["reportStatus"] == "coming"
    return job_id


async def report_summary(api: Any, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    report = await api.get(f"/imports/{job_id}/report", headers=headers)
    assert report.status_code == 200, report.text
    assert (await api.get(f"/imports/{job_id}", headers=headers)).json()["reportStatus"] == "ready"
    return summary_counts(report.content)


async def drive(job_id: str) -> tuple[list[str], RecordingDispatcher]:
    """One round of the recovery check, against the real broker; what it did for the job."""
    dispatcher = RecordingDispatcher()
    backlog = RedisBacklog(os.environ["REDIS_URL"], lease_seconds=15)
    driven = await jobs.drive_unfinished(dispatcher, backlog)
    return [f"{d.step} ({d.why})" for d in driven if d.job_id == job_id], dispatcher


async def test_a_cancel_while_the_completion_builds_the_report_leaves_the_cancelled_report(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, batches = await held_import(HEADER, ROWS, batch_size=2)
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    build_report = reports.build_report
    cancels = RecordingDispatcher()

    async def cancelled_during_the_first_build(job: Any) -> Any:
        if not cancels.finalizes:  # the user's cancel lands while the report is written
            await jobs.cancel_job(job_id, ADMIN, cancels)
        return await build_report(job)

    monkeypatch.setattr(reports, "build_report", cancelled_during_the_first_build)
    await jobs.finalize_job(job_id, get_settings())

    job = (await api.get(f"/imports/{job_id}", headers=admin_headers)).json()
    assert job["status"] == "cancelled"
    summary = await report_summary(api, admin_headers, job_id)
    assert summary["Imported"] == 6
    assert summary["Cancelled"].startswith("6 of 6 rows processed")
    # The completion's report was dropped for the cancelled one: one report, no orphan.
    assert await database["reports.files"].count_documents({}) == 1
    # The cancel's own message, delivered after, finds the report built and does nothing.
    await jobs.finalize_job(job_id, get_settings())
    assert await database["reports.files"].count_documents({}) == 1


async def test_a_lost_report_message_is_sent_again_by_the_recovery_check(
    api, database, admin_headers
) -> None:
    job_id = await cancelled_midway(api, admin_headers)

    steps, dispatcher = await drive(job_id)
    assert steps == ["report (message lost)"]
    assert dispatcher.finalizes == [job_id]
    await jobs.finalize_job(job_id, get_settings())

    summary = await report_summary(api, admin_headers, job_id)
    assert summary["Imported"] == 2
    assert summary["Cancelled"].startswith("2 of 6 rows processed")
    assert (await drive(job_id))[0] == []  # reported: nothing more to do


async def test_a_report_whose_worker_died_is_driven_again_once_its_lease_ran_out(
    api, database, admin_headers
) -> None:
    job_id = await cancelled_midway(api, admin_headers)
    collection = database["import_jobs"]
    held = {"finalizing_until": utcnow() + timedelta(seconds=15)}
    await collection.update_one({"_id": ObjectId(job_id)}, {"$set": held})
    assert (await drive(job_id))[0] == []  # a live worker builds it

    ran_out = {"finalizing_until": utcnow() - timedelta(seconds=1)}
    await collection.update_one({"_id": ObjectId(job_id)}, {"$set": ran_out})
    steps, dispatcher = await drive(job_id)
    assert steps == ["report (lease ran out)"]
    assert dispatcher.finalizes == [job_id]
    await jobs.finalize_job(job_id, get_settings())
    assert (await report_summary(api, admin_headers, job_id))["Imported"] == 2


async def test_a_report_that_fails_every_time_is_given_up_with_the_reason(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await cancelled_midway(api, admin_headers)

    async def unbuildable(job: Any) -> Any:
        raise RuntimeError("the report cannot be written")

    monkeypatch.setattr(reports, "build_report", unbuildable)
    for _ in range(policy.MAX_REPORT_ATTEMPTS):  # Dramatiq's deliveries, then the check's
        with pytest.raises(RuntimeError):
            await jobs.finalize_job(job_id, get_settings())

    assert (await drive(job_id))[0] == []  # asked often enough: no more deliveries
    refused = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"The report of this cancelled import could not be built ({policy.MAX_REPORT_ATTEMPTS} "
        "attempts); its counts are those shown with the import"
    )


async def test_a_report_not_built_within_its_time_is_given_up(api, database, admin_headers) -> None:
    job_id = await cancelled_midway(api, admin_headers)
    long_ago = utcnow() - policy.REPORT_OWED_FOR - timedelta(seconds=1)
    await database["import_jobs"].update_one(
        {"_id": ObjectId(job_id)}, {"$set": {"finished_at": long_ago}}
    )

    assert (await drive(job_id))[0] == []  # e.g. cancelled while no worker ran, long ago
    refused = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("The report of this cancelled import could not")


async def test_the_report_waits_for_a_batch_still_recording_what_it_wrote(
    api, database, admin_headers
) -> None:
    """A batch whose writer is done but whose delivery still holds its lease has not
    recorded its results yet: the cancelled import's report waits for it, or it would
    count fewer rows than the job."""
    from store.retry import Contended

    job_id = await cancelled_midway(api, admin_headers)
    recording = {"job_id": job_id, "status": "pending"}
    held = {"$set": {"lease_until": utcnow() + timedelta(seconds=30)}}
    await database["import_batches"].update_one(recording, held)

    with pytest.raises(Contended):
        await jobs.finalize_job(job_id, get_settings())
    assert (await api.get(f"/imports/{job_id}/report", headers=admin_headers)).status_code == 409

    await database["import_batches"].update_many(recording, {"$set": {"lease_until": None}})
    await jobs.finalize_job(job_id, get_settings())
    assert (await report_summary(api, admin_headers, job_id))["Imported"] == 2


async def test_the_report_counts_a_batch_finished_but_not_counted_yet(
    api, database, admin_headers
) -> None:
    """A batch records its results, then adds its counts to the job: a cancelled import's
    report built in between counts that batch too, so report and job agree."""
    job_id, batches = await held_import(HEADER, ROWS, batch_size=2)
    for batch in batches[:2]:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    # The second batch as a worker leaves it just before counting: finished, not counted.
    second = await database["import_batches"].find_one({"_id": batches[1]})
    undone = {f"counts.{name}": -value for name, value in second["counts"].items()}
    await database["import_jobs"].update_one(
        {"_id": ObjectId(job_id)}, {"$inc": undone, "$pull": {"counted_batches": 1}}
    )
    await jobs.cancel_job(job_id, ADMIN, RecordingDispatcher())

    await jobs.finalize_job(job_id, get_settings())

    summary = await report_summary(api, admin_headers, job_id)
    job = (await api.get(f"/imports/{job_id}", headers=admin_headers)).json()
    assert summary["Imported"] == job["counts"]["imported"] == 4


async def test_late_batch_messages_of_a_cancelled_import_take_no_lease(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a cancel, the batch messages not yet run are still delivered, one by one. Each
    must leave without taking its batch's lease: the report waits while any is held, and a
    big import's hundreds of late deliveries held it up for minutes."""
    job_id = await cancelled_midway(api, admin_headers)
    pending = {"job_id": job_id, "status": "pending"}
    late = [b["_id"] async for b in database["import_batches"].find(pending, {"_id": 1})]
    assert len(late) == 2
    leases_taken: list[str] = []
    take = leases.take

    async def counted_take(collection: Any, condition: Any, *args: Any, **kw: Any) -> Any:
        leases_taken.append(str(condition.get("_id")))
        return await take(collection, condition, *args, **kw)

    monkeypatch.setattr(leases, "take", counted_take)
    for batch in late:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())

    assert leases_taken == []
    untouched = {"attempts": 0, "lease_until": None}  # no delivery counted
    assert await database["import_batches"].count_documents({**pending, **untouched}) == 2
    monkeypatch.undo()
    await jobs.finalize_job(job_id, get_settings())
    assert (await report_summary(api, admin_headers, job_id))["Imported"] == 2
