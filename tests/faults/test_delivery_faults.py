"""Messages delivered more than once, a batch that fails on every delivery, and imports that
overlap: each import ends by itself, with the customers and counts a clean run gives (or,
for the failing batch, the clean run's less that batch's rows)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from store.documents import pack, unpack
from tests.faults.harness import (
    COLUMNS,
    ROWS,
    STANDARD_FILE,
    FaultStack,
    Redeliverer,
    Result,
    config,
    customers_of,
    duplicated_identifiers,
    existing_customers,
    import_rows,
)
from tests.faults.test_process_faults import assert_like_clean
from tests.helpers import csv_bytes

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


def test_every_batch_message_delivered_twice_at_once(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    clean = clean_run("append")
    fault_stack.reset()
    with Redeliverer(fault_stack.env["REDIS_URL"], "process_batch") as redelivered:
        result = fault_stack.run(STANDARD_FILE, config())
    print(f"\n[faults] {len(redelivered.copied)} batch messages sent twice", flush=True)
    assert len(set(redelivered.copied)) == ROWS // 1000
    assert_like_clean(fault_stack, result, clean)


def test_the_completion_message_delivered_twice(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    clean = clean_run("append")
    fault_stack.reset()
    with Redeliverer(fault_stack.env["REDIS_URL"], "finalize_import") as redelivered:
        result = fault_stack.run(STANDARD_FILE, config())
    assert len(redelivered.copied) >= 1
    assert_like_clean(fault_stack, result, clean)
    with fault_stack.database() as database:
        assert database["reports.files"].count_documents({}) == 1


def _poison_a_batch(stack: FaultStack, job_id: str) -> dict[str, Any]:
    """Once planned, the last batch no delivery has taken yet gets a value of a shape the
    resolution cannot handle: it raises on every delivery. The workers are held still
    meanwhile, so none takes it between the read and the write."""
    deadline = time.monotonic() + 120
    while stack.job(job_id).get("batch_count") is None:
        assert time.monotonic() < deadline, "the import was never planned"
        time.sleep(0.02)
    with stack.workers_frozen(), stack.database() as database:
        batches = database["import_batches"]
        batch = batches.find_one({"job_id": job_id, "attempts": 0}, sort=[("seq", -1)])
        assert batch is not None, "every batch was taken before it could be poisoned"
        rows = unpack(batch["packed_rows"])
        rows[0]["values"]["email"] = {"unexpected": "shape"}
        batches.update_one({"_id": batch["_id"]}, {"$set": {"packed_rows": pack(rows)}})
    return dict(batch)


def test_a_batch_that_raises_on_every_delivery(
    fault_stack: FaultStack, clean_run: Callable[[str], Result]
) -> None:
    clean = clean_run("append")
    fault_stack.reset()
    job_id = fault_stack.upload(STANDARD_FILE, config())
    poisoned = _poison_a_batch(fault_stack, job_id)
    numbers = {row["number"] for row in unpack(poisoned["packed_rows"])}
    sheet_rows = {row["line"] for row in unpack(poisoned["packed_rows"])}  # as the report shows
    result = fault_stack.result(job_id)

    assert result.status == "failed"
    error = fault_stack.job(job_id)["error"]
    where = f"rows {poisoned['first_row']}–{poisoned['last_row']}"
    batches = ROWS // 1000
    assert error.startswith(f"1 of {batches} batches could not be processed after 5 attempts"), (
        error
    )
    assert where in error and "TypeError" in error, error
    # Row n of the file is k = n - 1 of import_rows: the clean outcomes, less that batch's.
    lost = [n - 1 for n in numbers if (n - 1) % 1000 != 999]  # invalid rows failed anyway
    lost_updates = sum(1 for k in lost if k % 2 == 0)
    expected = dict(clean.counts)
    expected["failed"] += len(lost)
    expected["updated"] -= lost_updates
    expected["imported"] -= len(lost) - lost_updates
    assert result.counts == expected
    assert {k: result.summary[k] for k in ("Imported", "Updated", "Failed")} == {
        "Imported": expected["imported"],
        "Updated": expected["updated"],
        "Failed": expected["failed"],
    }
    not_processed = [r for r in result.details[1:] if str(r[2]).startswith("Not processed")]
    assert sorted(r[0] for r in not_processed) == sorted(sheet_rows)
    others = [r for r in result.details if r[0] not in sheet_rows]
    assert others == [r for r in clean.details if r[0] not in sheet_rows]
    # The other batches' customers are the clean run's; that batch's rows wrote nothing.
    unwritten = {f"new{k}@example.com" for k in lost if k % 2}
    untouched = {f"old{k // 2}@example.com" for k in lost if k % 2 == 0}
    seeded = {c["email"][0]: c for c in existing_customers(ROWS // 2)}
    expected_customers = [
        seeded[c["email"][0]] if c["email"][0] in untouched else c
        for c in clean.customers
        if c["email"][0] not in unwritten
    ]
    assert result.customers == sorted(expected_customers, key=_canonical)


def _canonical(profile: dict[str, Any]) -> str:
    return json.dumps(profile, sort_keys=True)


# Two files of 2,000 rows (not 20,000: four imports per action, and the suite runs in CI),
# whose last and first 1,000 rows are the same rows: whichever import applies them first,
# the customers end the same.
OVERLAP_FILES = [csv_bytes(COLUMNS, import_rows(2000, start)) for start in (0, 1000)]


@pytest.mark.parametrize("action", ["ignore", "replace", "update", "append"])
def test_two_overlapping_imports_at_once(fault_stack: FaultStack, action: str) -> None:
    def counts(job_ids: list[str]) -> dict[str, int]:
        jobs = [fault_stack.result(job_id) for job_id in job_ids]
        assert [j.status for j in jobs] == ["completed", "completed"]
        return {k: sum(j.counts[k] for j in jobs) for k in jobs[0].counts}

    fault_stack.reset()
    one_after_the_other = counts([_run_alone(fault_stack, f, action) for f in OVERLAP_FILES])
    with fault_stack.database() as database:
        sequential = customers_of(database)

    fault_stack.reset()
    at_once = counts([fault_stack.upload(f, config(action)) for f in OVERLAP_FILES])
    with fault_stack.database() as database:
        assert duplicated_identifiers(database) == []
        assert customers_of(database) == sequential
    assert at_once == one_after_the_other


def _run_alone(stack: FaultStack, content: bytes, action: str) -> str:
    job_id = stack.upload(content, config(action))
    stack.wait_finished(job_id)
    return job_id
