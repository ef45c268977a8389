"""Schedules (DESIGN.md §7) on real processes: two API processes, two worker processes and
two recovery checks (which fire schedules), all on the test's MongoDB and Redis, with the
source on a real HTTP server on loopback. Exactly one import per due time, a missed run
caught up once, overlap and unchanged sources skipped, run now, and the validation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId

from stack.processes import stop_all
from tests.helpers import csv_bytes, start_api, start_sweeper, start_worker
from tests.loopback import Loopback, Served, loopback_server

CONFIG = {"deduplicationKeys": ["email"], "action": "append"}
FILE = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["Bob", "bob@example.com"]])
DATABASE = "bcu_schedules"


@pytest.fixture(scope="module")
def web() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


@pytest.fixture(scope="module")
def cluster(workdir: Path, worker_env: dict[str, str]) -> Iterator[list[str]]:
    """Two of each process, on a database of their own; the API processes' URLs."""
    env = {**worker_env, "MONGODB_DATABASE": DATABASE}
    logs = workdir / "schedules"
    logs.mkdir(exist_ok=True)
    started = [start_worker(env, logs / f"worker-{n}.log") for n in (1, 2)]
    started += [start_sweeper(env, logs / f"sweeper-{n}.log") for n in (1, 2)]
    apis = [start_api(env, logs / f"api-{n}.log") for n in (1, 2)]
    yield [url for _, url in apis]
    stop_all([*started, *(child for child, _ in apis)])


@pytest.fixture
def db(sync_db: Any, cluster: list[str]) -> Iterator[Any]:
    database = sync_db.client[DATABASE]
    for name in ("schedules", "schedule_runs", "import_jobs", "customers", "identifier_claims"):
        database[name].delete_many({})
    yield database


def clients(urls: list[str], headers: dict[str, str]) -> list[httpx.Client]:
    return [httpx.Client(base_url=url, headers=headers, timeout=60) for url in urls]


def schedule_body(web: Loopback, **fields: Any) -> dict[str, Any]:
    return {
        "name": "CRM nightly",
        "source": {"url": f"{web.url}/crm/export.csv"},
        "config": CONFIG,
        "cron": "0 2 * * *",
        "timezone": "Europe/Paris",
        **fields,
    }


def wait(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout}s (last: {result!r})")
        time.sleep(0.2)


def make_due(db: Any, schedule_id: str, ago: timedelta = timedelta(seconds=1)) -> Any:
    """As if the clock had reached the schedule's next run (`ago` before now)."""
    from store.documents import utcnow

    due = utcnow() - ago
    due = due.replace(microsecond=due.microsecond // 1000 * 1000)  # as BSON keeps it
    db["schedules"].update_one({"_id": ObjectId(schedule_id)}, {"$set": {"next_run_at": due}})
    return due


def finished_run(db: Any, schedule_id: str, count: int = 1) -> list[dict[str, Any]]:
    runs = list(db["schedule_runs"].find({"schedule_id": schedule_id, "done": True}))
    return runs if len(runs) >= count else []


def imports_done(db: Any, schedule_id: str) -> list[dict[str, Any]]:
    jobs = list(db["import_jobs"].find({"schedule_id": schedule_id}))
    return jobs if jobs and all(j["status"] in ("completed", "failed") for j in jobs) else []


def test_a_due_schedule_runs_once_across_two_of_every_process(
    cluster, db, web, admin_headers
) -> None:
    web.files["/crm/export.csv"] = Served(FILE, etag='"v1"')
    first, second = clients(cluster, admin_headers)
    created = first.post("/schedules", json=schedule_body(web))
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["nextRunAt"] and schedule["lastRun"] is None
    assert second.get(f"/schedules/{schedule['id']}").json()["name"] == "CRM nightly"
    for _ in range(3):  # three due times, one after the other
        due = make_due(db, schedule["id"])
        done = {"due_at": due, "done": True}
        wait(lambda done=done: db["schedule_runs"].find_one(done), "the run")
        time.sleep(2.5)  # both recovery checks had two more rounds to make it again
        runs = list(db["schedule_runs"].find({"due_at": due}))
        assert len(runs) == 1, runs
        assert runs[0]["skipped"] is None, runs
        wait(lambda: imports_done(db, schedule["id"]), "its import ended")  # no overlap next
        web.files["/crm/export.csv"] = Served(FILE + b"x,y@example.com\r\n")  # changed
    jobs = wait(lambda: imports_done(db, schedule["id"]), "the imports ended")
    assert len(jobs) == 3
    assert all(j["created_by"] == "admin" and j["source"] for j in jobs)
    shown = second.get(f"/schedules/{schedule['id']}").json()
    assert shown["lastRun"]["importId"] in {str(j["_id"]) for j in jobs}
    assert shown["lastRun"]["status"] in ("completed", "pending", "in_progress")
    job = first.get(f"/imports/{shown['lastRun']['importId']}").json()
    assert job["scheduleId"] == schedule["id"] and job["source"] == schedule["source"]


def test_a_run_missed_while_everything_was_down_runs_once(cluster, db, web, admin_headers) -> None:
    web.files["/crm/export.csv"] = Served(FILE)
    (api,) = clients(cluster[:1], admin_headers)
    schedule = api.post("/schedules", json=schedule_body(web, cron="*/5 * * * *")).json()
    make_due(db, schedule["id"], ago=timedelta(days=3))  # 864 due times missed
    wait(lambda: finished_run(db, schedule["id"]), "the catch-up run")
    time.sleep(2.5)
    assert db["schedule_runs"].count_documents({"schedule_id": schedule["id"]}) == 1
    after = api.get(f"/schedules/{schedule['id']}").json()
    assert after["nextRunAt"] > after["lastRun"]["at"]


def test_a_run_due_while_the_last_import_is_unfinished_is_skipped(
    cluster, db, web, admin_headers
) -> None:
    web.files["/crm/export.csv"] = Served(FILE)
    (api,) = clients(cluster[:1], admin_headers)
    schedule = api.post("/schedules", json=schedule_body(web)).json()
    running = ObjectId()  # the last run's import, still in progress (its planning leased)
    lease = datetime.now(UTC) + timedelta(hours=1)
    db["import_jobs"].insert_one(
        {
            "_id": running,
            "status": "in_progress",
            "schedule_id": schedule["id"],
            "plan_lease_until": lease,
        }
    )
    db["schedules"].update_one(
        {"_id": ObjectId(schedule["id"])}, {"$set": {"last_import_id": str(running)}}
    )
    make_due(db, schedule["id"])
    wait(lambda: finished_run(db, schedule["id"]), "the run")
    last = api.get(f"/schedules/{schedule['id']}").json()["lastRun"]
    assert last["skipped"] == "overlap" and last["status"] == "skipped" and last["importId"] is None
    refused = api.post(f"/schedules/{schedule['id']}/run")
    assert refused.status_code == 409 and "has not finished" in refused.json()["detail"]
    assert db["import_jobs"].count_documents({}) == 1


@pytest.mark.parametrize("etag", ['"same"', None], ids=["by ETag", "by content hash"])
def test_an_unchanged_source_is_skipped(cluster, db, web, admin_headers, etag) -> None:
    web.files["/crm/export.csv"] = Served(FILE, etag=etag)
    (api,) = clients(cluster[:1], admin_headers)
    schedule = api.post("/schedules", json=schedule_body(web, skipUnchanged=True)).json()
    make_due(db, schedule["id"])
    wait(lambda: finished_run(db, schedule["id"]), "the first run")
    wait(lambda: imports_done(db, schedule["id"]), "its import ended")
    make_due(db, schedule["id"])
    runs = wait(lambda: finished_run(db, schedule["id"], 2), "the second run")
    assert sorted(str(r["skipped"]) for r in runs) == ["None", "unchanged"]
    assert db["import_jobs"].count_documents({"schedule_id": schedule["id"]}) == 1
    web.files["/crm/export.csv"] = Served(FILE + b"Cy,cy@example.com\r\n", etag=etag and '"new"')
    make_due(db, schedule["id"])
    wait(lambda: finished_run(db, schedule["id"], 3), "the third run")
    assert db["import_jobs"].count_documents({"schedule_id": schedule["id"]}) == 2


def test_run_now_and_a_failing_source(cluster, db, web, admin_headers) -> None:
    web.files["/crm/export.csv"] = Served(FILE)
    first, second = clients(cluster, admin_headers)
    schedule = first.post("/schedules", json=schedule_body(web, enabled=False)).json()
    assert schedule["nextRunAt"] is None
    started = second.post(f"/schedules/{schedule['id']}/run")
    assert started.status_code == 202, started.text
    job = wait(lambda: imports_done(db, schedule["id"]), "the import ended")[0]
    # Its two rows imported, or updated where an import of a test before wrote them last.
    assert job["status"] == "completed" and job["counts"]["total"] == 2
    assert job["counts"]["failed"] == 0
    assert str(job["_id"]) == started.json()["id"]
    # A source that answers 404 at its due time: a failed import that says why.
    changed = first.patch(
        f"/schedules/{schedule['id']}",
        json={"enabled": True, "source": {"url": f"{web.url}/gone.csv"}},
    )
    assert changed.status_code == 200, changed.text
    make_due(db, schedule["id"])
    wait(lambda: finished_run(db, schedule["id"]), "the run")
    failed = db["import_jobs"].find_one({"schedule_id": schedule["id"], "status": "failed"})
    assert failed is not None and "HTTP 404" in failed["error"]
    assert first.get(f"/schedules/{schedule['id']}").json()["lastRun"]["status"] == "failed"


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"cron": "0 2 * *"}, 400, "Invalid cron '0 2 * *'"),
        ({"cron": "0 25 * * *"}, 400, "Invalid cron"),
        ({"timezone": "Europe/Atlantis"}, 400, "Invalid timezone 'Europe/Atlantis'"),
        ({"config": {**CONFIG, "deduplicationKeys": ["city"]}}, 422, "Not channel identifiers"),
        ({"source": {"url": "ftp://host/x.csv"}}, 400, "source.url"),
        ({"name": ""}, 400, "name"),
    ],
)
def test_invalid_schedules_are_refused(
    cluster, db, web, admin_headers, fields, status, detail
) -> None:
    (api,) = clients(cluster[:1], admin_headers)
    refused = api.post("/schedules", json=schedule_body(web, **fields))
    assert refused.status_code == status, refused.text
    assert detail in refused.json()["detail"]
    assert db["schedules"].count_documents({}) == 0
    created = api.post("/schedules", json=schedule_body(web)).json()
    changed = api.patch(f"/schedules/{created['id']}", json=fields)
    assert changed.status_code == status, changed.text
    assert api.delete(f"/schedules/{created['id']}").status_code == 204
