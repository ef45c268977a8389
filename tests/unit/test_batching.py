"""Batching: rows that share an identifier value always land in one batch, in file order,
and batches fill with whole groups; checked against a plain dictionary union-find."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import batching
from domain.batching import RowGrouper

ROWS = st.lists(st.sets(st.tuples(st.sampled_from(["email", "phone"]), st.integers(0, 30))))


def reference_groups(rows: list[set[tuple[str, int]]]) -> list[int]:
    """Each row's group, named by the group's first row."""
    group = list(range(len(rows)))
    first_row: dict[tuple[str, int], int] = {}
    for row, values in enumerate(rows):
        for value in values:
            other = first_row.setdefault(value, row)
            a, b = group[other], group[row]
            if a != b:
                low, high = min(a, b), max(a, b)
                group = [low if g == high else g for g in group]
    return group


@settings(max_examples=300, deadline=None)
@given(
    rows=ROWS,
    batch_size=st.integers(1, 8),
    chunk=st.sampled_from([1, 3, 1000]),
    spill=st.sampled_from([None, io.BytesIO]),
)
def test_batches_keep_groups_whole_and_fill_in_order(rows, batch_size, chunk, spill) -> None:
    batching.SORT_CHUNK = chunk  # sorted runs of any length, kept or spilled, give the same
    try:
        grouper = RowGrouper(spill)
        for values in rows:
            grouper.add(values)
        batch_of_row, sizes, linked, _ = grouper.assign_batches(batch_size)
    finally:
        batching.SORT_CHUNK = 200_000
    groups = reference_groups(rows)
    assert len(batch_of_row) == len(rows)
    for a in range(len(rows)):
        for b in range(len(rows)):
            if groups[a] == groups[b]:
                assert batch_of_row[a] == batch_of_row[b]
    assert sizes == [list(batch_of_row).count(i) for i in range(len(sizes))]
    # Groups enter batches in order of their first row; a batch closes at batch_size.
    expected_sizes: list[int] = []
    seen: set[int] = set()
    for row, group in enumerate(groups):
        if group in seen:
            continue
        seen.add(group)
        if not expected_sizes or expected_sizes[-1] >= batch_size:
            expected_sizes.append(0)
        expected_sizes[-1] += groups.count(group)
        assert batch_of_row[row] == len(expected_sizes) - 1
    assert sizes == expected_sizes
    assert linked == [0] * len(sizes)  # no links: no row reaches anything


def test_grouping_with_a_spill_holds_one_sort_chunk_whatever_the_rows() -> None:
    """3 values a row for 200,000 rows: sorted runs go to files, so what stays in memory is
    the pairs not yet sorted, 12 bytes each (tuples in a dict took about 200 bytes a value:
    600 MB for a million rows)."""
    import tempfile
    import tracemalloc

    tracemalloc.start()
    grouper = RowGrouper(spill=tempfile.TemporaryFile)
    for row in range(200_000):
        grouper.add((("email", row), ("phone", row), ("phone", row + 1_000_000)))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The rows' sizes (4 bytes a row) and at most SORT_CHUNK unsorted pairs.
    assert held < 200_000 * 4 + batching.SORT_CHUNK * 12 + 1024 * 1024, held
    batch_of_row, sizes, _, _ = grouper.assign_batches(1000)
    assert sizes == [1000] * 200 and list(batch_of_row[999:1001]) == [0, 1]


def test_batches_close_by_bytes_but_never_split_a_group() -> None:
    grouper = RowGrouper()
    sizes_in = [5, 5, 5, 5, 20, 5]
    groups = [{1}, {2}, {3}, {3}, {4}, {5}]  # rows 2 and 3 share a value
    for values, size in zip(groups, sizes_in, strict=True):
        grouper.add(values, size)
    batch_of_row, sizes, _, _ = grouper.assign_batches(batch_size=100, max_bytes=10)
    # 5+5 fills one batch; the group of rows 2-3 (10 bytes) its own; 20 alone; then 5.
    assert list(batch_of_row) == [0, 0, 1, 1, 2, 3]
    assert sizes == [2, 2, 1, 1]


@settings(max_examples=300, deadline=None)
@given(
    rows=ROWS,
    links=ROWS,
    batch_size=st.integers(1, 8),
    chunk=st.sampled_from([1, 3, 1000]),
    spill=st.sampled_from([None, io.BytesIO]),
)
def test_links_join_rows_and_take_no_place_in_batches(rows, links, batch_size, chunk, spill):
    """A link (an existing customer's values) joins the rows that have any of its values,
    as a row holding them all would, wherever it is added; batches hold the file's rows.
    A link's batch is the batch of the rows that have its first value, if any has it."""
    links = [sorted(values) for values in links]
    batching.SORT_CHUNK = chunk
    try:
        grouper = RowGrouper(spill)
        for values in links[: len(links) // 2]:
            grouper.link(values)
        for values in rows:
            grouper.add(values)
        for values in links[len(links) // 2 :]:
            grouper.link(values)
        batch_of_row, sizes, linked, of_link = grouper.assign_batches(batch_size)
    finally:
        batching.SORT_CHUNK = 200_000
    assert list(of_link) == [
        next((batch_of_row[row] for row, have in enumerate(rows) if values[0] in have), -1)
        if values
        else -1
        for values in links
    ]

    everything = reference_groups([*rows, *(set(values) for values in links)])
    groups = everything[: len(rows)]
    assert len(batch_of_row) == len(rows) == sum(sizes)
    # A row is linked when its group holds a link that has a value: what it reaches.
    reaching = {everything[len(rows) + i] for i, values in enumerate(links) if values}
    assert linked == [
        sum(1 for row, g in enumerate(groups) if batch_of_row[row] == b and g in reaching)
        for b in range(len(sizes))
    ]
    for a in range(len(rows)):
        for b in range(len(rows)):
            if groups[a] == groups[b]:
                assert batch_of_row[a] == batch_of_row[b]
