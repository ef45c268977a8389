"""`make run`'s process tree end to end: the documented example file imports through the
API, and stopping the runner leaves no process behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.e2e.conftest import start_stack
from tests.helpers import csv_bytes, summary_counts, wait_for_job_sync

EXAMPLE = csv_bytes(
    ["firstName", "lastName", "email", "phoneNumber", "city"],
    [
        ["John", "Doe", "john@example.com", "+12025550143", "New York"],
        ["Jane", "Smith", "jane@example.com", "+14155550132", "Boston"],
    ],
)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid="], capture_output=True, text=True)
    table = [tuple(map(int, line.split())) for line in out.stdout.splitlines() if line.strip()]
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp, _ in table if pp in frontier and p not in found}
        found |= children
        frontier = children
    return sorted(found)


def _alive(pids: list[int]) -> list[int]:
    return [
        p
        for p in pids
        if Path(f"/proc/{p}").exists()
        and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()
    ]


def test_example_file_imports_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "data")
    try:
        processes = _descendants(stack.proc.pid)
        # mongod, redis, api, dramatiq main + worker, ui at least
        assert len(processes) >= 6, processes
        with stack.client() as client:
            assert client.get("/health").json() == {"status": "ok", "mongo": "ok", "redis": "ok"}
            response = client.post(
                "/imports",
                files={"file": ("example.csv", EXAMPLE, "text/csv")},
                data={
                    "config": '{"recordType": "customers", "deduplicationKeys": ["email"],'
                    ' "action": "ignore"}'
                },
            )
            assert response.status_code == 202, response.text
            job = wait_for_job_sync(client, response.json()["id"])
            assert job["status"] == "completed"
            assert job["counts"]["imported"] == 2
            report = client.get(f"/imports/{job['id']}/report")
            assert report.status_code == 200
            assert summary_counts(report.content)["Imported"] == 2
            found = client.get("/customers", params={"email": "jane@example.com"}).json()
            assert [c["lastName"] for c in found["items"]] == ["Smith"]
            ui = httpx.get(stack.ui_url, timeout=10)
            assert ui.status_code == 200
    finally:
        code = stack.stop()
    assert code == 0
    assert _alive(processes) == []


def test_second_run_reuses_the_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_stack(data)
    try:
        with first.client() as client:
            response = client.post(
                "/imports",
                files={"file": ("example.csv", EXAMPLE, "text/csv")},
                data={"config": '{"deduplicationKeys": ["email"], "action": "ignore"}'},
            )
            wait_for_job_sync(client, response.json()["id"])
    finally:
        first.stop()
    second = start_stack(data)
    try:
        with second.client() as client:
            assert client.get("/customers").json()["total"] == 2
            assert client.get("/imports").json()["total"] == 1
    finally:
        second.stop()
