"""The API stopped in the middle of an upload, and the whole `make run` stopped with Ctrl-C
mid-import and started again on its data."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from stack.processes import start_mongo, stop_all
from tests.e2e.conftest import RunningStack, start_stack
from tests.faults.harness import (
    ROWS,
    STANDARD_FILE,
    FaultStack,
    Result,
    config,
    customers_of,
    duplicated_identifiers,
    existing_customers,
    report_of,
)
from tests.helpers import FINISHED, csv_bytes, seed_customers_sync, wait_for_job_sync

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


def _big_file(megabytes: int) -> bytes:
    filler = "x" * 1000
    rows = [[f"Big{n}", f"big{n}@example.com", "", filler, ""] for n in range(megabytes * 1000)]
    return csv_bytes(["firstName", "email", "phoneNumber", "city", "labels"], rows)


def _leftovers(database: Any) -> dict[str, int]:
    """Uploads no import names, and imports still pending."""
    named = [j["file_id"] for j in database["import_jobs"].find({}, {"file_id": 1})]
    return {
        "files": database["uploads.files"].count_documents({"_id": {"$nin": named}}),
        "chunks": database["uploads.chunks"].count_documents({"files_id": {"$nin": named}}),
        "leases": database["upload_leases"].count_documents({}),
        "pending": database["import_jobs"].count_documents({"status": "pending"}),
    }


def test_the_api_stopped_during_a_100_mb_upload(fault_stack: FaultStack) -> None:
    fault_stack.reset(existing=0)
    content = _big_file(100)
    answers: list[Any] = []

    def upload() -> None:
        try:
            with fault_stack.client() as client:
                answers.append(
                    client.post(
                        "/imports",
                        files={"file": ("big.csv", content, "text/csv")},
                        data={"config": '{"deduplicationKeys": ["email"]}'},
                    )
                )
        except httpx.HTTPError as error:
            answers.append(error)

    uploading = threading.Thread(target=upload)
    uploading.start()
    with fault_stack.database() as database:
        deadline = time.monotonic() + 120
        while database["uploads.chunks"].count_documents({}) == 0:  # being stored now
            assert time.monotonic() < deadline and uploading.is_alive(), answers
            time.sleep(0.05)
        fault_stack.stop("api")  # SIGTERM; it drops the request after API_SHUTDOWN_SECONDS
        uploading.join()
        fault_stack.start_app("api")
        back = time.monotonic()
        [answer] = answers
        assert isinstance(answer, httpx.HTTPError) or answer.status_code >= 500, answer
        while (left := _leftovers(database)) != {
            "files": 0,
            "chunks": 0,
            "leases": 0,
            "pending": 0,
        }:
            assert time.monotonic() - back < 120, left
            time.sleep(0.2)
        print(
            f"\n[recovery] API stopped during a 100 MB upload: nothing left of it "
            f"{time.monotonic() - back:.1f} s after the API was back",
            flush=True,
        )
        assert database["import_jobs"].count_documents({}) == 0


def _what_the_stop_left(data: Path, job_id: str) -> dict[str, Any]:
    """The import as the stopped stack left it on disk, read by a database server of its
    own on the same data (before the restarted stack's workers change it)."""
    from bson import ObjectId

    server, url = start_mongo(data / "mongodb")
    try:
        database = MongoClient(url)["bcu_e2e"]
        job = database["import_jobs"].find_one({"_id": ObjectId(job_id)}) or {}
        pending = database["import_batches"].count_documents(
            {"job_id": job_id, "status": "pending"}
        )
        database.client.close()
    finally:
        stop_all([server])
    return {
        "status": job.get("status"),
        "processed_rows": job.get("processed_rows", 0),
        "pending_batches": pending,
    }


def _no_progress(stack: RunningStack) -> str:
    """What the restarted stack did instead of resuming: its batches and its log's end."""
    database = MongoClient(stack.mongo_url)["bcu_e2e"]
    try:
        pending = list(
            database["import_batches"].find(
                {"status": "pending"}, {"attempts": 1, "lease_until": 1}
            )
        )
    finally:
        database.client.close()
    log = stack.log_path.read_text(errors="replace").splitlines()[-80:]
    return "no progress after the restart; pending " + repr(pending) + "\n" + "\n".join(log)


def test_make_run_stopped_with_ctrl_c_and_started_again(
    tmp_path: Path, clean_run: Callable[[str], Result]
) -> None:
    clean = clean_run("append")
    data = tmp_path / "data"
    first = start_stack(data)
    try:
        seed_database = MongoClient(first.mongo_url)["bcu_e2e"]
        seed_customers_sync(seed_database, existing_customers(ROWS // 2))
        seed_database.client.close()
        with first.client() as client:
            response = client.post(
                "/imports",
                files={"file": ("faults.csv", STANDARD_FILE, "text/csv")},
                data={"config": json.dumps(config())},
            )
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]
            while (job := client.get(f"/imports/{job_id}").json())["progress"][
                "processedRows"
            ] < ROWS // 4:
                assert job["status"] not in FINISHED, job
                time.sleep(0.1)
    finally:
        assert first.stop() == 0  # Ctrl-C
    left = _what_the_stop_left(data, job_id)
    assert left["status"] == "in_progress", left  # stopped mid-job
    second = start_stack(data)
    try:
        with second.client() as client:
            back = time.monotonic()
            # The stop lets the batches in flight finish: when that was all of them, only the
            # completion is left, and the job ends without its processed rows moving.
            while (job := client.get(f"/imports/{job_id}").json())["progress"][
                "processedRows"
            ] <= left["processed_rows"] and job["status"] not in FINISHED:
                assert time.monotonic() - back < 120, _no_progress(second)
                time.sleep(0.1)
            moved = time.monotonic() - back
            job = wait_for_job_sync(client, job_id, timeout=300)
            print(
                f"\n[recovery] make run stopped with Ctrl-C and started again: progress moved "
                f"{moved:.1f} s after the restart was up; the rest took "
                f"{time.monotonic() - back:.1f} s ({left['processed_rows']} rows and "
                f"{left['pending_batches']} batches were left)",
                flush=True,
            )
            summary, details = report_of(client, job_id)
        database = MongoClient(second.mongo_url)["bcu_e2e"]
        try:
            assert job["status"] == "completed", job
            assert job["counts"] == clean.counts
            assert (summary, details) == (clean.summary, clean.details)
            assert customers_of(database) == clean.customers
            assert duplicated_identifiers(database) == []
        finally:
            database.client.close()
    finally:
        second.stop()
