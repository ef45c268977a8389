"""SortedSpill gives back every record it was given, sorted by number, whether everything
fitted in memory, was spilled as runs, or was merged down in several passes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.reports import spill as spill_module
from store.reports.spill import Record, SortedSpill


def records(numbers: list[int]) -> list[Record]:
    return [
        (n, "failed", (f"id{n}", f"reason {n}", [f"cell {n}", "=1+1", "é" * (n % 7)]))
        for n in numbers
    ]


@settings(max_examples=60, deadline=None)
@given(
    numbers=st.lists(st.integers(min_value=1, max_value=10**9), unique=True, max_size=300),
    chunk=st.integers(min_value=1, max_value=5000),
    fan_in=st.integers(min_value=2, max_value=5),
    buffer=st.integers(min_value=1, max_value=300),
    block=st.integers(min_value=1, max_value=7),
)
def test_gives_back_every_record_sorted(
    numbers: list[int], chunk: int, fan_in: int, buffer: int, block: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spill_module, "SORT_CHUNK_BYTES", chunk)
        patch.setattr(spill_module, "MERGE_FAN_IN", fan_in)
        patch.setattr(spill_module, "RUN_BUFFER_BYTES", buffer)
        patch.setattr(spill_module, "RUN_BLOCK", block)
        with SortedSpill() as spill:
            for record in records(numbers):
                spill.add(record, 100)
            assert list(spill.sorted()) == records(sorted(numbers))


def test_runs_of_sorted_batches_that_interleave(monkeypatch: pytest.MonkeyPatch) -> None:
    # As batches arrive: each in row order, together covering 1..n in no order.
    monkeypatch.setattr(spill_module, "SORT_CHUNK_BYTES", 10_000)
    monkeypatch.setattr(spill_module, "MERGE_FAN_IN", 3)
    numbers = list(range(1, 5001))
    random.Random(7).shuffle(numbers)
    batches = [sorted(numbers[i : i + 97]) for i in range(0, len(numbers), 97)]
    with SortedSpill() as spill:
        for batch in batches:
            for record in records(batch):
                spill.add(record, 100)
        assert len(spill._runs) > 3  # spilled, and more runs than one merge takes
        assert [r[0] for r in spill.sorted()] == list(range(1, 5001))


def test_empty() -> None:
    with SortedSpill() as spill:
        assert list(spill.sorted()) == []
