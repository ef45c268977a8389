"""A batch stores its results as RowResultRecord's dumps, built without a model per row
(store.jobs.batches): the bytes must be the ones the models give, for every kind of result."""

from __future__ import annotations

import pytest

from domain.resolution import Outcome, RowResult
from store.documents import Counts, pack
from store.jobs.batches import _packed_results
from store.reports.rows import pack_details
from tests.integration.test_report_order import ROWS, report_job, row_and_result


async def test_packed_results_are_the_records_dumps(database) -> None:
    pairs = [row_and_result(n) for n in range(1, ROWS + 1)]
    rows = [row.model_dump() for row, _ in pairs]
    records = [record for _, record in pairs]
    results = [
        RowResult(
            number=r.number,
            outcome=Outcome(r.outcome),
            reason=r.reason,
            customer_id=r.customer_id,
            changes=tuple(r.changes),
        )
        for r in records
    ]
    job = report_job()

    packed = _packed_results(job, rows, results)

    dumps = [r.model_dump() for r in records]
    assert packed.packed == pack(records)
    assert packed.details == pack_details(job, rows, dumps)
    assert packed.counts == Counts(total=ROWS, imported=10, updated=10, ignored=10, failed=10)


def test_counts_refuse_an_outcome_they_do_not_count() -> None:
    assert Counts.of(["imported", "failed", "imported"]) == Counts(total=3, imported=2, failed=1)
    with pytest.raises(ValueError, match="not an outcome: unknown"):
        Counts.of(["imported", "unknown"])
    with pytest.raises(ValueError, match="not an outcome: total"):
        Counts.of(["total"])
