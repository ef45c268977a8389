"""GET /metrics (DESIGN.md §8) with real processes: imports run by a worker of two processes,
scraped from two API processes, which answer the same domain values, equal to the sums of
the jobs' own counts; the recovery check's drive of a batch whose worker died is counted; a
webhook's attempts are counted by result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import get_settings
from stack.processes import Child, stop_all
from store import webhooks
from store.documents import ImportBatch, Role, WebhookDelivery, utcnow
from store.principal import Principal
from tests.helpers import (
    csv_bytes,
    held_import,
    import_form,
    start_api,
    start_sweeper,
    wait_for_job,
)
from tests.loopback import Loopback, loopback_server

HEADER = ["firstName", "email"]
ROWS = [["Ann", "ann@example.com"], ["Bob", "bob@example.com"], ["", "nameless@example.com"]]
FILE = csv_bytes(HEADER, ROWS)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def second_api(workdir: Path, worker_env: dict[str, str]) -> Iterator[str]:
    child, url = start_api(worker_env, workdir / "metrics-api-2.log")
    yield url
    stop_all([child])


@pytest.fixture
def sweeper(workdir: Path, worker_env: dict[str, str]) -> Iterator[Any]:
    """Started by the test when it wants the recovery check to run."""
    started: list[Child] = []
    yield lambda: started.append(start_sweeper(worker_env, workdir / "metrics-sweeper.log"))
    stop_all(started)


async def scrape(api: httpx.AsyncClient, headers: dict[str, str]) -> Samples:
    answer = await api.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def domain(samples: Samples) -> Samples:
    """The samples every replica must agree on (not its own HTTP or process metrics)."""
    return {
        key: value
        for key, value in samples.items()
        if key[0].startswith("bcu_") and not key[0].startswith("bcu_http")
    }


async def test_every_replica_answers_the_workers_counts(
    api, database, worker, api_server, second_api, sweeper, admin_headers
) -> None:
    finished = []
    for action in ("append", "ignore", "replace"):
        config = {"deduplicationKeys": ["email"], "action": action}
        created = await api.post("/imports", headers=admin_headers, **import_form(FILE, config))
        finished.append(await wait_for_job(api, created.json()["id"], admin_headers))
    dry = {"deduplicationKeys": ["email"], "action": "append", "dryRun": True}
    created = await api.post("/imports", headers=admin_headers, **import_form(FILE, dry))
    await wait_for_job(api, created.json()["id"], admin_headers)

    # A worker killed mid-batch leaves the batch pending under a lease that runs out; the
    # recovery check drives it again, and that is counted.
    job_id, (batch_id,) = await held_import(HEADER, [["Cy", "cy@example.com"]])
    await ImportBatch.get_pymongo_collection().update_one(
        {"_id": batch_id}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}}
    )
    sweeper()
    finished.append(await wait_for_job(api, job_id, admin_headers))

    async with (
        httpx.AsyncClient(base_url=api_server) as one,
        httpx.AsyncClient(base_url=second_api) as two,
    ):
        assert (await one.get(f"/imports/{job_id}", headers=admin_headers)).is_success
        first, second = await scrape(one, admin_headers), await scrape(two, admin_headers)
    assert domain(first) == domain(second)
    for outcome in ("imported", "updated", "ignored", "failed"):
        expected = sum(job["counts"][outcome] for job in finished)
        assert first[("bcu_import_rows_total", (("outcome", outcome),))] == expected, outcome
    assert first[("bcu_import_rows_total", (("outcome", "imported"),))] == 3
    assert first[("bcu_imports_total", (("status", "completed"),))] == 5  # the dry run too
    assert first[("bcu_import_duration_seconds_count", ())] == 5
    assert first[("bcu_import_duration_seconds_bucket", (("le", "+Inf"),))] == 5
    assert first[("bcu_jobs", (("status", "pending"),))] == 0
    assert first[("bcu_step_recoveries_total", (("step", "batch"),))] == 1
    assert ("bcu_queue_messages", (("queue", "imports"),)) in first
    requests = [key for key in first if key[0] == "bcu_http_requests_total"]
    assert any(("path", "/imports/{job_id}") in labels for _, labels in requests), requests
    assert not any(job_id in str(labels) for _, labels in requests)  # by template, not path


async def test_metrics_need_a_key_and_any_role_reads_them(api, database, admin_headers) -> None:
    assert (await api.get("/metrics")).status_code == 401
    body = {"name": "v", "role": "viewer"}
    created = await api.post("/api-keys", headers=admin_headers, json=body)
    viewer = {"Authorization": f"Bearer {created.json()['key']}"}
    answer = await api.get("/metrics", headers=viewer)
    assert answer.status_code == 200
    assert "bcu_import_rows_total" in answer.text


class HeldCourier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def deliver(self, delivery_id: str, delay_ms: int = 0) -> None:
        self.sent.append(delivery_id)


@pytest.fixture
def receiver() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


async def test_webhook_attempts_are_counted_by_result(
    api, database, admin_headers, receiver
) -> None:
    receiver.answers = [500]
    settings = get_settings()
    admin = Principal("admin", Role.ADMIN, "k")
    hook = await webhooks.create(f"{receiver.url}/hook", ["import.failed"], "", admin, settings)
    courier = HeldCourier()
    delivery = await webhooks.send_test(str(hook.id), courier)
    await webhooks.deliver(delivery.id, settings, courier)  # answered 500: retried
    await WebhookDelivery.get_pymongo_collection().update_one(
        {"_id": delivery.id}, {"$set": {"next_attempt_at": utcnow()}}
    )
    await webhooks.deliver(delivery.id, settings, courier)  # answered 200
    samples = await scrape(api, admin_headers)
    assert samples[("bcu_webhook_deliveries_total", (("result", "retried"),))] == 1
    assert samples[("bcu_webhook_deliveries_total", (("result", "delivered"),))] == 1
