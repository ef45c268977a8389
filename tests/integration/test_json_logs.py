"""LOG_FORMAT=json (DESIGN.md §8) on real processes: the API, the workers (two processes), the
webhook worker and the recovery check. Every line they write during an import and its revert
is a JSON object; the import's lines in the API and the workers share its importId and the
requestId its request gave; no line holds the admin key, a session token or a webhook
secret."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.processes import Child, stop_all
from tests.helpers import (
    csv_bytes,
    import_form,
    start_api,
    start_sweeper,
    start_webhook_worker,
    start_worker,
    wait_for_job,
    wait_until,
)
from tests.loopback import Loopback, loopback_server

DATABASE = "bcu_logs"
NAMES = ("api", "worker", "webhooks", "sweeper")
ROWS = [[f"P{n}", f"p{n}@example.com"] for n in range(5)] + [["", "bad"]]
CONFIG = {"deduplicationKeys": ["email"], "action": "append", "batchSize": 2}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


@pytest.fixture(scope="module")
def processes(workdir: Path, worker_env: dict[str, str]) -> Iterator[tuple[str, dict[str, Path]]]:
    env = {**worker_env, "LOG_FORMAT": "json", "MONGODB_DATABASE": DATABASE}
    logs = {name: workdir / f"json-logs-{name}.log" for name in NAMES}
    api, url = start_api(env, logs["api"])
    started: list[Child] = [
        api,
        start_worker(env, logs["worker"]),
        start_webhook_worker(env, logs["webhooks"]),
        start_sweeper(env, logs["sweeper"]),
    ]
    yield url, logs
    stop_all(started)


def ready(path: Path, processes: int) -> bool:
    return path.exists() and path.read_text(errors="replace").count("ready for action") >= processes


def parsed(path: Path, offset: int) -> list[dict[str, Any]]:
    lines = path.read_bytes()[offset:].decode().splitlines()
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}: not a JSON line: {line!r}") from None
    return found


async def test_every_line_is_json_and_one_import_is_followed_by_its_ids(
    processes, receiver, admin_headers
) -> None:
    url, logs = processes

    async def booted() -> bool:
        return ready(logs["worker"], 2) and ready(logs["webhooks"], 1)

    await wait_until(booted, "the workers booted", timeout=60)
    offsets = {name: path.stat().st_size for name, path in logs.items()}

    async with httpx.AsyncClient(base_url=url, timeout=60) as api:
        opened = (await api.post("/auth/sessions", headers=admin_headers)).json()
        session = {"Authorization": f"Bearer {opened['token']}"}
        events = ["import.completed", "import.reverted"]
        hook = await api.post(
            "/webhooks", headers=admin_headers, json={"url": f"{receiver.url}/h", "events": events}
        )
        secret = hook.json()["secret"]
        form = import_form(csv_bytes(["firstName", "email"], ROWS), CONFIG)
        created = await api.post(
            "/imports", headers={**session, "X-Request-ID": "req-import-1"}, **form
        )
        assert created.status_code == 202, created.text
        assert created.headers["x-request-id"] == "req-import-1"
        job_id = created.json()["id"]
        await wait_for_job(api, job_id, session)
        reverted = await api.post(
            f"/imports/{job_id}/revert", headers={**session, "X-Request-ID": "req-revert-1"}
        )
        assert reverted.status_code == 202, reverted.text
        revert_id = reverted.json()["id"]
        await wait_for_job(api, revert_id, session)
        made_up = await api.get("/health", headers={"X-Request-ID": 'bad "id" <script>'})
        assert made_up.headers["x-request-id"] != 'bad "id" <script>'  # not echoed: one is made

        async def both_delivered() -> bool:
            return len(receiver.received) >= 2

        await wait_until(both_delivered, "both webhook messages delivered")
        await api.delete("/auth/sessions/current", headers=session)

    lines = {name: parsed(path, offsets[name]) for name, path in logs.items()}
    for name in NAMES:
        assert lines[name], f"{name} wrote nothing"
        for line in lines[name]:
            assert {"ts", "level", "logger", "msg"} <= set(line), line

    created_line = [line for line in lines["api"] if line["msg"].startswith("import created")]
    assert [(line["importId"], line["requestId"]) for line in created_line] == [
        (job_id, "req-import-1")
    ]
    steps = [line for line in lines["worker"] if line.get("importId") == job_id]
    assert {line["step"] for line in steps} >= {"plan_import", "process_batch", "finalize_import"}
    assert {line["requestId"] for line in steps} == {"req-import-1"}
    assert {line["batch"] for line in steps if line["step"] == "process_batch"} == {0, 1, 2}
    reverting = [line for line in lines["worker"] if line.get("importId") == revert_id]
    assert reverting and {line["requestId"] for line in reverting} == {"req-revert-1"}

    written = "".join(path.read_text(errors="replace") for path in logs.values())
    for secret_text in (os.environ["ADMIN_API_KEY"], opened["token"], secret):
        assert secret_text not in written
    assert secret.removeprefix("whsec_") not in written
