"""Webhooks (DESIGN.md §7) with the real processes: the import workers, the webhook worker
and the recovery check, and a real HTTP receiver on loopback that verifies each message with
the `standardwebhooks` package, as a receiver would."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from stack.processes import free_port, stop_all
from tests.helpers import (
    csv_bytes,
    import_form,
    start_sweeper,
    start_webhook_worker,
    wait_for_job,
    wait_until,
)
from tests.loopback import Loopback, loopback_server

CONFIG = {"deduplicationKeys": ["email"], "action": "append"}
FILE = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["", "bad"]])


@pytest.fixture(scope="module")
def delivering(workdir: Path, worker_env: dict[str, str]) -> Iterator[None]:
    webhook_worker = start_webhook_worker(worker_env, workdir / "webhook-worker.log")
    sweeper = start_sweeper(worker_env, workdir / "webhook-sweeper.log")
    yield
    stop_all([webhook_worker, sweeper])


@pytest.fixture
def receiver() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


async def register(api, headers, url: str, events: list[str] | None = None) -> dict:
    body = {
        "url": url,
        "events": events or ["import.completed", "import.failed"],
        "description": "CRM",
    }
    created = await api.post("/webhooks", headers=headers, json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def deliveries(api, headers, webhook_id: str) -> list[dict]:
    answer = await api.get(f"/webhooks/{webhook_id}/deliveries", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_an_import_s_end_is_signed_delivered_and_verified(
    api, database, admin_headers, worker, delivering, receiver
) -> None:
    hook = await register(api, admin_headers, f"{receiver.url}/hooks/crm")
    assert hook["secret"].startswith("whsec_")
    assert len(base64.b64decode(hook["secret"].removeprefix("whsec_"))) >= 24
    listed = (await api.get("/webhooks", headers=admin_headers)).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]

    job = (await api.post("/imports", headers=admin_headers, **import_form(FILE, CONFIG))).json()
    finished = await wait_for_job(api, job["id"], admin_headers)
    await wait_until(lambda: _arrived(receiver, 1), "the webhook arrived")
    message = receiver.received[0]
    payload = Verifier(hook["secret"]).verify(message.body, message.headers)
    assert payload["type"] == "import.completed"
    assert payload["data"]["id"] == job["id"]
    assert payload["data"]["counts"] == finished["counts"]
    assert payload["data"]["status"] == "completed"
    log = await deliveries(api, admin_headers, hook["id"])
    assert [(d["event"], d["status"], d["attempts"], d["importId"]) for d in log] == [
        ("import.completed", "delivered", 1, job["id"])
    ]
    assert log[0]["id"] == message.headers["webhook-id"] and log[0]["lastStatusCode"] == 200


async def _arrived(receiver: Loopback, count: int) -> bool:
    return len(receiver.received) >= count


async def test_a_receiver_that_fails_gets_the_same_message_again(
    api, database, admin_headers, worker, delivering, receiver
) -> None:
    hook = await register(api, admin_headers, f"{receiver.url}/hooks/flaky")
    receiver.answers = [500]
    job = (await api.post("/imports", headers=admin_headers, **import_form(FILE, CONFIG))).json()
    await wait_for_job(api, job["id"], admin_headers)
    await wait_until(lambda: _arrived(receiver, 2), "the second attempt", timeout=40)
    first, second = receiver.received[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    for attempt in (first, second):
        Verifier(hook["secret"]).verify(attempt.body, attempt.headers)

    async def delivered() -> list[dict]:
        log = await deliveries(api, admin_headers, hook["id"])
        return log if log and log[0]["status"] == "delivered" else []

    log = await wait_until(delivered, "the delivery recorded")
    assert log[0]["attempts"] == 2 and log[0]["lastStatusCode"] == 200


async def test_a_completion_delivered_twice_makes_one_delivery(
    api, database, admin_headers, worker, delivering, receiver
) -> None:
    from workers.actors import finalize_import

    hook = await register(api, admin_headers, f"{receiver.url}/hooks/once")
    job = (await api.post("/imports", headers=admin_headers, **import_form(FILE, CONFIG))).json()
    await wait_for_job(api, job["id"], admin_headers)
    await wait_until(lambda: _arrived(receiver, 1), "the webhook arrived")
    # The completion message delivered again, and the job's event announced again (as if
    # the first completion had died after ending the job): still one delivery.
    finalize_import.send(job["id"])
    await database["import_jobs"].update_one({"_id": _oid(job["id"])}, {"$set": {"announce": True}})

    async def announced() -> bool:
        return await database["import_jobs"].count_documents({"announce": True}) == 0

    await wait_until(announced, "the event announced again")
    await wait_until(lambda: _idle(database), "no delivery pending", timeout=10)
    assert len(receiver.received) == 1
    assert len(await deliveries(api, admin_headers, hook["id"])) == 1


async def _idle(database) -> bool:
    return await database["webhook_deliveries"].count_documents({"status": "pending"}) == 0


def _oid(value: str):
    from bson import ObjectId

    return ObjectId(value)


async def test_a_receiver_that_is_down_is_retried_later_and_the_import_is_not_held_up(
    api, database, admin_headers, worker, delivering
) -> None:
    hook = await register(api, admin_headers, f"http://127.0.0.1:{free_port()}/down")
    job = (await api.post("/imports", headers=admin_headers, **import_form(FILE, CONFIG))).json()
    assert (await wait_for_job(api, job["id"], admin_headers))["status"] == "completed"

    async def tried() -> list[dict]:
        log = await deliveries(api, admin_headers, hook["id"])
        return log if log and log[0]["attempts"] >= 1 and log[0]["lastError"] else []

    log = await wait_until(tried, "a failed attempt recorded")
    assert log[0]["status"] == "pending" and log[0]["nextAttemptAt"] is not None
    assert log[0]["lastStatusCode"] is None


async def test_the_test_event_and_the_delivery_log(
    api, database, admin_headers, delivering, receiver
) -> None:
    hook = await register(api, admin_headers, f"{receiver.url}/hooks/test", ["import.reverted"])
    sent = await api.post(f"/webhooks/{hook['id']}/test", headers=admin_headers)
    assert sent.status_code == 202 and sent.json()["event"] == "webhook.test"
    await wait_until(lambda: _arrived(receiver, 1), "the test message arrived")
    payload = Verifier(hook["secret"]).verify(
        receiver.received[0].body, receiver.received[0].headers
    )
    assert payload["type"] == "webhook.test" and payload["data"]["webhookId"] == hook["id"]
    assert (await api.delete(f"/webhooks/{hook['id']}", headers=admin_headers)).status_code == 204
    gone = await api.get(f"/webhooks/{hook['id']}/deliveries", headers=admin_headers)
    assert gone.status_code == 404
    assert await database["webhook_deliveries"].count_documents({}) == 0


async def test_webhooks_are_for_admins_and_private_addresses_are_refused(
    api, database, admin_headers
) -> None:
    from api.app import create_app
    from config import Settings

    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "i", "role": "importer"}
    )
    importer = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get("/webhooks", headers=importer)).status_code == 403
    app = create_app(Settings(outbound_allow_private=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://a"
    ) as closed:
        body = {"url": "http://127.0.0.1:9/hook", "events": ["import.completed"]}
        refused = await closed.post("/webhooks", headers=admin_headers, json=body)
    assert refused.status_code == 400 and "loopback" in refused.json()["detail"]
    assert await database["webhooks"].count_documents({}) == 0
