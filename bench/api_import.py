"""One import through the HTTP API, as a script would do it: POST /imports (multipart `file`
and `config`), poll GET /imports/{id} until the job ends, then read the job document from
MongoDB for its phase timestamps."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.harness import API_KEY, AppStack, ServerCounters

FINISHED = ("completed", "failed", "cancelled")
# A poll is a GET of the job (an API request and a read of the server): every 0.2 s, a
# finished job is seen 0.1 s late on average, at 5 requests/s.
POLL_SECONDS = 0.2
PHASES = (  # (name, from field, to field) of the job document
    ("planning", "created_at", "planned_at"),
    ("batches", "planned_at", "batches_done_at"),
    ("report", "batches_done_at", "ended"),  # "ended": when a poll saw the job finished
)


def job_document(mongo_url: str, database: str, job_id: str) -> dict[str, Any]:
    """The job document, with `_batches` / `_deliveries`: its batches and the sum of their
    `attempts` (deliveries), when the batch documents have them."""
    with MongoClient(mongo_url, tz_aware=True) as client:
        found = client[database]["import_jobs"].find_one({"_id": ObjectId(job_id)}) or {}
        batches = client[database]["import_batches"].find({"job_id": job_id}, {"attempts": 1})
        attempts = [b["attempts"] for b in batches if isinstance(b.get("attempts"), int)]
    if attempts:
        found.update(_batches=len(attempts), _deliveries=sum(attempts))
    return found


def import_parts(
    config: dict[str, Any], file: IO[bytes] | bytes | None, name: str
) -> dict[str, Any]:
    """The multipart parts of POST /imports: `config`, and the file unless the config
    names a source."""
    parts: dict[str, Any] = {"config": (None, json.dumps(config), "application/json")}
    if file is not None:
        parts["file"] = (name, file, "text/csv")
    return parts


def wait_for_job(
    stack: AppStack, client: httpx.Client, job_id: str, started: float, timeout: float
) -> tuple[dict[str, Any], int]:
    """Poll GET /imports/{id} until the job ends (cancelled past `timeout` seconds after the
    `started` perf_counter); the job as answered, and the number of polls."""
    polls = 0
    while True:
        if not stack.workers.alive:
            raise RuntimeError(f"the workers exited; see {stack.workers.log_path}")
        job: dict[str, Any] = client.get(f"/imports/{job_id}").raise_for_status().json()
        polls += 1
        if job["status"] in FINISHED:
            return job, polls
        if time.perf_counter() - started > timeout:
            client.post(f"/imports/{job_id}/cancel")
            raise TimeoutError(f"job {job_id} not finished after {timeout:.0f} s: {job}")
        time.sleep(POLL_SECONDS)


def http_import(
    stack: AppStack,
    action: str,
    rows: int,
    path: Path | None,
    timeout: float,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """POST /imports of the file at `path`, or of `source` (DESIGN.md §7: a multipart
    request of the `config` part alone, the job fetches the file), then poll until the job
    ends. Seconds run from the POST's start to the poll that saw it finished (POLL_SECONDS
    apart), not to its `finished_at`: that is stamped before the report is built, which
    takes seconds more (8 s of a 100,000-row job)."""
    config: dict[str, Any] = {"deduplicationKeys": ["email"], "action": action}
    config |= {"source": source} if source else {}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=None) as client:
        with contextlib.ExitStack() as opened:
            file = opened.enter_context(path.open("rb")) if path else None
            parts = import_parts(config, file, path.name if path else "")
            started_wall, started = time.time(), time.perf_counter()
            answer = client.post("/imports", files=parts)
            upload = time.perf_counter() - started
        if answer.status_code != 202:
            raise RuntimeError(f"POST /imports answered {answer.status_code}: {answer.text[:500]}")
        job_id = answer.json()["id"]
        job, polls = wait_for_job(stack, client, job_id, started, timeout)
        observed = time.perf_counter() - started
    document = job_document(stack.servers.mongo_url, stack.database, job_id)
    document["ended"] = datetime.fromtimestamp(started_wall + observed, UTC)
    phases: dict[str, float | None] = {"upload": upload}
    for name, start, end in PHASES:
        a, b = document.get(start), document.get(end)
        phases[name] = (b - a).total_seconds() if a and b else None
    return {
        "job_id": job_id,
        "status": job["status"],
        "error": job.get("error"),
        "counts": job.get("counts"),
        "seconds": observed,
        "rows_per_second": rows / observed,
        "phases": phases,
        "polls": polls,
        "batches": document.get("_batches"),
        "batch_deliveries": document.get("_deliveries"),
    }


def http_revert(stack: AppStack, job_id: str, rows: int, timeout: float) -> dict[str, Any]:
    """POST /imports/{id}/revert then poll the revert until it ends; seconds from the POST to
    the poll that saw it finished (as http_import's), rows/s of the import's rows."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=None) as client:
        started = time.perf_counter()
        answer = client.post(f"/imports/{job_id}/revert")
        if answer.status_code not in (200, 202):
            raise RuntimeError(f"revert answered {answer.status_code}: {answer.text[:500]}")
        revert_id, polls = answer.json()["id"], 0
        while True:
            revert = client.get(f"/imports/{revert_id}").raise_for_status().json()
            polls += 1
            if revert["status"] in FINISHED:
                observed = time.perf_counter() - started
                break
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"revert {revert_id} not finished after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)
    return {
        "job_id": revert_id,
        "status": revert["status"],
        "error": revert.get("error"),
        "counts": revert.get("revertCounts"),
        "seconds": observed,
        "rows_per_second": rows / observed,
        "polls": polls,
    }


def poll_cost(stack: AppStack, counters: ServerCounters, job_id: str, samples: int = 10) -> float:
    """Server requests one GET /imports/{id} costs (subtracted from a case's count)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    client = httpx.Client(base_url=stack.url, headers=headers)
    with client, counters.measure() as found:
        for _ in range(samples):
            client.get(f"/imports/{job_id}")
    return found.get("requests", 0) / samples
