"""Splitting a file's rows into batches so that rows sharing any channel-identifier value
land in the same batch, in file order. Batches are then independent of each other: any
number of workers can process them in any order with the same result as row-by-row."""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Hashable, Iterable, Iterator

# Pairs sorted at once: bounds the transient memory of grouping (a few tens of MB).
SORT_CHUNK = 200_000


class RowGrouper:
    """Groups rows joined by shared identifier values, in memory that stays small for a
    million rows: each (row, value) is kept as a 64-bit hash of the value and a row number
    in flat arrays (12 bytes), never as Python objects. Rows sharing a value have equal
    hashes and are grouped; two values with equal hashes by chance only put two unrelated
    rows in one batch, which changes no result (rows keep file order within a batch)."""

    def __init__(self) -> None:
        self._rows = 0
        self._hashes = array("q")
        self._owners = array("i")
        self._sizes = array("i")  # each row's size in bytes, as the caller counts them

    def add(self, identifiers: Iterable[Hashable], size: int = 0) -> int:
        row = self._rows
        self._rows += 1
        self._sizes.append(size)
        for ident in identifiers:
            self._hashes.append(hash(ident))
            self._owners.append(row)
        return row

    def _sorted_runs(self) -> list[Iterator[tuple[int, int]]]:
        """(hash, row) pairs in sorted runs of at most SORT_CHUNK, taken from the end of the
        arrays so that each run's pairs are freed from them as it is made."""
        runs: list[Iterator[tuple[int, int]]] = []
        while self._hashes:
            start = max(0, len(self._hashes) - SORT_CHUNK)
            pairs = sorted(zip(self._hashes[start:], self._owners[start:], strict=True))
            del self._hashes[start:], self._owners[start:]
            hashes = array("q", (h for h, _ in pairs))
            rows = array("i", (r for _, r in pairs))
            del pairs
            runs.append(zip(hashes, rows, strict=True))
        return runs

    def _parents(self) -> array[int]:
        parent = array("i", range(self._rows))

        def find(row: int) -> int:
            root = row
            while parent[root] != root:
                root = parent[root]
            while parent[row] != root:  # path compression
                parent[row], row = root, parent[row]
            return root

        last_hash: int | None = None
        first_row = -1
        # Equal hashes arrive together, lowest row first: join each to that first row.
        for value_hash, row in heapq.merge(*self._sorted_runs()):
            if value_hash != last_hash:
                last_hash, first_row = value_hash, row
                continue
            root_a, root_b = find(first_row), find(row)
            if root_a != root_b:
                # The earlier row stays the root, so a group's root is its first row.
                low, high = sorted((root_a, root_b))
                parent[high] = low
        for row in range(self._rows):
            parent[row] = find(row)
        return parent

    def assign_batches(
        self, batch_size: int, max_bytes: int | None = None
    ) -> tuple[array[int], list[int]]:
        """(batch index of each row, rows of each batch). A batch is filled with whole
        groups in order of their first row and closes once it reaches `batch_size` rows, or
        would pass `max_bytes` with the next group; a group larger than either limit gets a
        batch of its own."""
        roots = self._parents()
        group_rows = array("i", bytes(4 * self._rows))
        group_bytes = array("q", bytes(8 * self._rows))
        for row, root in enumerate(roots):
            group_rows[root] += 1
            group_bytes[root] += self._sizes[row]
        batch_of_group = array("i", [-1]) * self._rows
        sizes: list[int] = []
        batch_bytes = 0
        for root in roots:
            if batch_of_group[root] >= 0:
                continue
            too_big = max_bytes is not None and batch_bytes + group_bytes[root] > max_bytes
            if not sizes or sizes[-1] >= batch_size or (too_big and sizes[-1] > 0):
                sizes.append(0)
                batch_bytes = 0
            batch_of_group[root] = len(sizes) - 1
            sizes[-1] += group_rows[root]
            batch_bytes += group_bytes[root]
        return array("i", (batch_of_group[root] for root in roots)), sizes
