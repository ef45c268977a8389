"""Retention: the uploaded file, the reports and the stored rows of imports finished more
than REPORT_RETENTION_DAYS ago are deleted; the jobs stay, and their report and failed-rows
downloads answer 410 Gone. Files of unfinished imports are never deleted."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from config import Settings
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from stack.processes import Child, stop_all
from store import files, reports
from store import jobs as job_store
from store.documents import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    JobStatus,
    RowResultRecord,
    utcnow,
)

DAY = timedelta(days=1)
GONE_REPORT = (
    "The report was deleted: uploaded files and reports are kept for 30 days after an "
    "import finishes"
)
GONE_FAILED_ROWS = GONE_REPORT.replace("The report was", "The failed rows were")


async def make_job(
    name: str, status: JobStatus, finished_days_ago: float | None, *, report: bool = True
) -> ImportJob:
    """A job with its uploaded file, one batch (one failed row) and, when finished, a report."""
    upload = await files.save_stream(
        files.uploads(), f"{name}.csv", io.BytesIO(b"firstName\r\n\r\n"), {}
    )
    now = utcnow()
    finished = now - finished_days_ago * DAY if finished_days_ago is not None else None
    job = ImportJob(
        status=status,
        file_name=f"{name}.csv",
        file_id=upload,
        action="append",
        deduplication_keys=["email"],
        mapping={"firstName": "firstName"},
        header=["firstName"],
        schema_attributes=[
            a.model_dump(by_alias=True, mode="json") for a in DEFAULT_CUSTOMER_SCHEMA.attributes
        ],
        created_at=now - 60 * DAY,
        started_at=now - 60 * DAY,
        finished_at=finished,
        total_rows=1,
        batch_count=1,
        counts=Counts(total=1, failed=1),
    )
    await job.insert()
    reason = "Missing mandatory field: firstName"
    await ImportBatch(
        id=f"{job.id}-000000",
        job_id=str(job.id),
        seq=0,
        rows=[BatchRow(number=1, line=2, raw=[""], errors=[reason])],
        results=[RowResultRecord(number=1, outcome="failed", reason=reason)],
        status=BatchStatus.DONE,
    ).insert()
    if report:
        job.report_file_id = await reports.build_report(job)
        await job.save()
    return job


async def remaining(database: Any, bucket: str) -> set[Any]:
    return {f["_id"] async for f in database[f"{bucket}.files"].find({}, {"_id": 1})}


async def seed(database: Any) -> dict[str, ImportJob]:
    jobs = {
        "completed": await make_job("completed", JobStatus.COMPLETED, 31),
        "failed": await make_job("failed", JobStatus.FAILED, 45),
        "cancelled": await make_job("cancelled", JobStatus.CANCELLED, 40, report=False),
        "recent": await make_job("recent", JobStatus.COMPLETED, 29),
        # Unfinished, however old: never touched (even with a stray finished_at).
        "running": await make_job("running", JobStatus.IN_PROGRESS, 90, report=False),
        "pending": await make_job("pending", JobStatus.PENDING, None, report=False),
    }
    # Their steps held by a live worker, so that the sweeper's recovery check (which the
    # test runs) leaves them to it: completing "running" would build it a report.
    held = utcnow() + timedelta(hours=1)
    jobs["running"].finalizing_until = held
    jobs["pending"].plan_lease_until = held
    for name in ("running", "pending"):
        await jobs[name].save()
    # A report left by a finalize that died before recording it: deleted with its job.
    await files.save_stream(
        files.reports(), "stray.xlsx", io.BytesIO(b"x"), {"jobId": str(jobs["completed"].id)}
    )
    return jobs


EXPIRED = ("completed", "failed", "cancelled")
KEPT = ("recent", "running", "pending")


async def assert_cleaned(database: Any, jobs: dict[str, ImportJob]) -> None:
    assert await remaining(database, "uploads") == {jobs[k].file_id for k in KEPT}
    assert await remaining(database, "reports") == {jobs["recent"].report_file_id}
    batches = database["import_batches"]
    assert set(await batches.distinct("job_id")) == {str(jobs[k].id) for k in KEPT}
    for key in EXPIRED:
        stored = await database["import_jobs"].find_one({"_id": jobs[key].id})
        assert stored["file_id"] is None and stored["report_file_id"] is None, key
        assert stored["status"] == jobs[key].status and stored["counts"]["failed"] == 1, key
    for key in KEPT:
        stored = await database["import_jobs"].find_one({"_id": jobs[key].id})
        assert stored["file_id"] == jobs[key].file_id, key
        assert stored["report_file_id"] == jobs[key].report_file_id, key


async def test_expired_files_are_deleted_and_downloads_answer_gone(
    api, database, admin_headers
) -> None:
    jobs = await seed(database)
    uploads_before = await remaining(database, "uploads")
    reports_before = await remaining(database, "reports")

    assert await job_store.delete_expired_files(Settings(report_retention_days=0)) == []
    assert await job_store.delete_expired_files(Settings(report_retention_days=100)) == []
    assert await remaining(database, "uploads") == uploads_before
    assert await remaining(database, "reports") == reports_before

    cleaned = await job_store.delete_expired_files(Settings(report_retention_days=30))
    assert sorted(cleaned) == sorted(str(jobs[k].id) for k in EXPIRED)
    await assert_cleaned(database, jobs)
    assert await job_store.delete_expired_files(Settings(report_retention_days=30)) == []

    for key in ("completed", "failed"):
        job_id = jobs[key].id
        report = await api.get(f"/imports/{job_id}/report", headers=admin_headers)
        assert report.status_code == 410, report.text
        assert report.json()["detail"] == GONE_REPORT
        failed = await api.get(f"/imports/{job_id}/failed-rows.csv", headers=admin_headers)
        assert failed.status_code == 410, failed.text
        assert failed.json()["detail"] == GONE_FAILED_ROWS
        job = await api.get(f"/imports/{job_id}", headers=admin_headers)
        assert job.status_code == 200 and job.json()["counts"]["failed"] == 1
    cancelled = await api.get(f"/imports/{jobs['cancelled'].id}/report", headers=admin_headers)
    assert cancelled.status_code == 410

    recent = jobs["recent"].id
    assert (await api.get(f"/imports/{recent}/report", headers=admin_headers)).status_code == 200
    csv = await api.get(f"/imports/{recent}/failed-rows.csv", headers=admin_headers)
    assert csv.status_code == 200
    assert csv.content.decode("utf-8-sig").splitlines()[1] == ",Missing mandatory field: firstName"
    running = await api.get(f"/imports/{jobs['running'].id}/report", headers=admin_headers)
    assert running.status_code == 409


async def test_a_report_deleted_before_its_job_is_marked_is_gone(
    api, database, admin_headers
) -> None:
    # A retention run that stopped between deleting the files and marking the job.
    job = await make_job("halfway", JobStatus.COMPLETED, 31)
    assert await files.delete(files.reports(), job.report_file_id)
    response = await api.get(f"/imports/{job.id}/report", headers=admin_headers)
    assert response.status_code == 410, response.text
    assert response.json()["detail"] == GONE_REPORT
    # The next run finishes the job off.
    assert await job_store.delete_expired_files(Settings(report_retention_days=30)) == [str(job.id)]
    assert await remaining(database, "uploads") == set()


async def test_the_sweeper_deletes_expired_files(database, workdir: Path) -> None:
    jobs = await seed(database)
    log = workdir / "retention-sweeper.log"
    env = {**os.environ, "REPORT_RETENTION_DAYS": "30", "RECOVERY_CHECK_SECONDS": "1"}
    sweeper = Child("sweeper", [sys.executable, "-m", "wiring.sweeper"], env, log).start()
    try:
        deadline = time.monotonic() + 60
        while await database["import_jobs"].count_documents({"file_id": None}) < len(EXPIRED):
            assert sweeper.alive, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            await asyncio.sleep(0.2)
    finally:
        stop_all([sweeper])
    await assert_cleaned(database, jobs)
    assert "deleted the files of expired imports" in log.read_text()
