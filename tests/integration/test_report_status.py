"""`reportStatus` of GET /imports/{id}: whether the report can be downloaded ("ready"), will
come ("coming": the job runs, or a cancelled import's report is being built) or will not
("none"), so that a page or a script knows how long to wait for it."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from store.documents import JobStatus, utcnow
from store.jobs import policy
from tests.integration.test_retention import make_job


async def status_of(api: Any, headers: dict[str, str], job_id: object) -> str:
    job = await api.get(f"/imports/{job_id}", headers=headers)
    assert job.status_code == 200, job.text
    return str(job.json()["reportStatus"])


async def test_a_running_or_finished_import_says_whether_its_report_is_there(
    api, database, admin_headers
) -> None:
    pending = await make_job("pending", JobStatus.PENDING, None, report=False)
    running = await make_job("running", JobStatus.IN_PROGRESS, None, report=False)
    completed = await make_job("completed", JobStatus.COMPLETED, 1)
    failed = await make_job("failed", JobStatus.FAILED, 1, report=False)  # states.fail
    assert await status_of(api, admin_headers, pending.id) == "coming"
    assert await status_of(api, admin_headers, running.id) == "coming"
    assert await status_of(api, admin_headers, completed.id) == "ready"
    assert await status_of(api, admin_headers, failed.id) == "none"
    report = await api.get(f"/imports/{completed.id}/report", headers=admin_headers)
    assert report.status_code == 200

    # Retention deleted its files: the job stays, its report is gone for good.
    expired = {"$set": {"file_id": None, "report_file_id": None}}
    await database["import_jobs"].update_one({"_id": completed.id}, expired)
    assert await status_of(api, admin_headers, completed.id) == "none"
    gone = await api.get(f"/imports/{completed.id}/report", headers=admin_headers)
    assert gone.status_code == 410


async def test_a_cancelled_import_report_is_coming_until_it_is_given_up(
    api, database, admin_headers
) -> None:
    cancelled = await make_job("cancelled", JobStatus.CANCELLED, 0, report=False)
    oid = ObjectId(cancelled.id)
    assert await status_of(api, admin_headers, oid) == "coming"

    # Asked as often as the policy allows, without success: none will come.
    attempts = {"$set": {"finalize_attempts": policy.MAX_REPORT_ATTEMPTS}}
    await database["import_jobs"].update_one({"_id": oid}, attempts)
    assert await status_of(api, admin_headers, oid) == "none"

    # Or asked for too long: the same.
    late = utcnow() - policy.REPORT_OWED_FOR
    owed_too_long = {"$set": {"finalize_attempts": 1, "finished_at": late}}
    await database["import_jobs"].update_one({"_id": oid}, owed_too_long)
    assert await status_of(api, admin_headers, oid) == "none"
    refused = await api.get(f"/imports/{oid}/report", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("The report of this cancelled import could not")
