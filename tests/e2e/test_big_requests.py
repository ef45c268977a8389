"""Big requests against the real API process: each gets its answer (a 413, or its result)
while other clients go on being answered, during it and after it. Nothing here asserts a
time; "during" means a request sent while the big one runs is answered before it ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.helpers import csv_bytes

pytestmark = pytest.mark.e2e
HEADERS = {"Authorization": "Bearer test-admin-key"}


def _while_running(
    big: Callable[[], httpx.Response], api_server: str
) -> tuple[httpx.Response, list[tuple[int, float]]]:
    """Run `big` in a thread; meanwhile poll /health and a customer lookup. Returns its
    response and (status, seconds) of every poll answered before it finished."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", big()))
    answered: list[tuple[int, float]] = []
    with httpx.Client(base_url=api_server, headers=HEADERS, timeout=60) as poller:
        thread.start()
        while thread.is_alive():
            for path in ("/health", "/customers?email=nobody@example.com"):
                started = time.perf_counter()
                status = poller.get(path).status_code
                if thread.is_alive():
                    answered.append((status, time.perf_counter() - started))
            time.sleep(0.05)
        thread.join()
        after = [poller.get(path).status_code for path in ("/health", "/imports", "/customers")]
    assert after == [200, 200, 200]
    slowest = max((seconds for _, seconds in answered), default=0.0)
    print(f"{len(answered)} requests answered meanwhile, slowest {slowest:.3f} s")
    return result["response"], answered


def _bulk(api_server: str, customers: list[dict[str, Any]]) -> Callable[[], httpx.Response]:
    body = json.dumps({"action": "replace", "deduplicationKeys": ["email"], "customers": customers})

    def send() -> httpx.Response:
        with httpx.Client(base_url=api_server, headers=HEADERS, timeout=120) as client:
            return client.post(
                "/customers/bulkCustomers",
                content=body,
                headers={"Content-Type": "application/json"},
            )

    return send


def test_a_50_mb_bulk_request_is_a_413_and_others_are_answered(api_server, sync_db) -> None:
    customers = [{"firstName": "x" * 10_000, "email": f"big{i}@example.com"} for i in range(5_000)]
    response, answered = _while_running(_bulk(api_server, customers), api_server)
    assert response.status_code == 413, response.text[:500]
    assert all(status == 200 for status, _ in answered)
    assert sync_db["customers"].count_documents({"attributes.email": "big0@example.com"}) == 0


def test_a_bulk_request_just_under_the_limit_completes_and_others_are_answered(
    api_server, sync_db
) -> None:
    # 1,500 customers of 10,000 characters: 15 MB, under BULK_MAX_BYTES (16 MiB).
    customers = [{"firstName": "y" * 10_000, "email": f"wide{i}@example.com"} for i in range(1_500)]
    response, answered = _while_running(_bulk(api_server, customers), api_server)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["insertedCount"] + response.json()["updatedCount"] == 1_500
    assert answered, "the request ended before any other was sent"
    assert all(status == 200 for status, _ in answered)


def test_other_requests_are_answered_while_a_big_upload_is_checked(api_server) -> None:
    # 400,000 rows (about 12 MB): the API reads the whole file before it accepts the import.
    rows = [[f"Name{i}", f"u{i}@example.com"] for i in range(400_000)]
    content = csv_bytes(["firstName", "email"], rows)
    config = json.dumps({"deduplicationKeys": ["email"], "dryRun": True})

    def upload() -> httpx.Response:
        with httpx.Client(base_url=api_server, headers=HEADERS, timeout=120) as client:
            return client.post(
                "/imports", files={"file": ("big.csv", content)}, data={"config": config}
            )

    response, answered = _while_running(upload, api_server)
    assert response.status_code == 202, response.text[:500]
    with httpx.Client(base_url=api_server, headers=HEADERS, timeout=60) as client:
        client.post(f"/imports/{response.json()['id']}/cancel")  # its processing is not tested
    assert answered, "the upload ended before any other request was sent"
    assert all(status == 200 for status, _ in answered)
