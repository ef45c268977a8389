"""Processes that die or go away mid-import: each import reaches its end by itself, with the
customers, counts and report of a clean run; the recovery time is printed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.faults.harness import (
    ROWS,
    STANDARD_FILE,
    FaultStack,
    Recovery,
    Result,
    config,
    duplicated_identifiers,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


def assert_like_clean(stack: FaultStack, result: Result, clean: Result) -> None:
    assert result.status == "completed", result.status
    assert result.counts == clean.counts
    assert result.summary == clean.summary
    assert result.details == clean.details
    assert result.customers == clean.customers
    with stack.database() as database:
        assert duplicated_identifiers(database) == []


def start_standard(stack: FaultStack, action: str = "append") -> tuple[str, float]:
    stack.reset()
    return stack.upload(STANDARD_FILE, config(action)), time.monotonic()


def survives(
    stack: FaultStack, clean: Result, fault: str, faults: list[tuple[float, Callable[[], None]]]
) -> None:
    """The standard import, with each fault injected once that share of its rows is
    processed; it ends like the clean run, and the recovery times are printed."""
    job_id, started = start_standard(stack)
    recovery = Recovery(stack, job_id, fault)
    for share, inject in faults:
        stack.wait_processed(job_id, int(ROWS * share))
        recovery.after(inject)
    result = stack.result(job_id, started)
    recovery.report(result, clean)
    assert_like_clean(stack, result, clean)


def test_a_worker_process_killed_three_times(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    kill = fault_stack.kill_worker_process
    survives(
        fault_stack,
        clean_run("append"),
        "worker process SIGKILLed, 3 times",
        [(0.15, kill), (0.4, kill), (0.65, kill)],
    )


def test_redis_restarted_without_persistence(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    def restart() -> None:
        fault_stack.restart("redis")

    survives(
        fault_stack, clean_run("append"), "Redis restarted without persistence", [(0.25, restart)]
    )


def test_the_database_stopped_for_ten_seconds(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    def outage() -> None:
        fault_stack.stop("mongodb")
        time.sleep(10)
        fault_stack.start_mongo()  # on the same data

    survives(fault_stack, clean_run("append"), "database stopped for 10 s", [(0.25, outage)])


def test_the_api_while_the_database_is_stopped_answers_503_with_a_reason(
    fault_stack: FaultStack,
) -> None:
    """Requests that need the database get a 503 saying the database did not answer, with a
    Retry-After, never a 500; once it is back they succeed again without a restart."""
    fault_stack.reset()
    job_id = fault_stack.upload(STANDARD_FILE, config("append"))
    fault_stack.stop("mongodb")
    try:
        with fault_stack.client() as client:
            answers = [
                client.get(f"/imports/{job_id}"),
                client.get("/customers"),
                client.post(
                    "/imports",
                    files={"file": ("late.csv", STANDARD_FILE, "text/csv")},
                    data={"config": json.dumps(config("append"))},
                ),
            ]
    finally:
        fault_stack.start_mongo()  # on the same data
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["detail"].startswith("The database did not answer"), answer.text
    with fault_stack.client() as client:
        assert client.get(f"/imports/{job_id}").status_code == 200
    assert fault_stack.wait_finished(job_id)["status"] == "completed"


def test_a_worker_killed_while_building_the_report(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    # ignore: every duplicate is a line of the report's details, so the report takes long
    # enough to be caught midway.
    clean = clean_run("ignore")
    job_id, started = start_standard(fault_stack, "ignore")
    deadline = time.monotonic() + 240
    while not fault_stack.job(job_id).get("finalizing_until"):
        assert time.monotonic() < deadline, "the report was never started"
        time.sleep(0.005)
    recovery = Recovery(fault_stack, job_id, "worker killed while building the report")

    def kill() -> None:
        fault_stack.kill_workers()
        assert fault_stack.job(job_id)["status"] == "in_progress", "the report was done first"

    recovery.after(kill)
    result = fault_stack.result(job_id, started)
    recovery.report(result, clean)
    assert_like_clean(fault_stack, result, clean)
    with fault_stack.database() as database:
        assert database["import_jobs"].find_one({"status": "completed"})["finalize_attempts"] == 2
