"""Splitting a file's rows into batches so that rows sharing any channel-identifier value
land in the same batch, in file order. Batches are then independent of each other: any
number of workers can process them in any order with the same result as row-by-row."""

from __future__ import annotations

import heapq
import struct
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import IO

# Pairs sorted at once: bounds the transient memory of grouping (a few tens of MB).
SORT_CHUNK = 200_000
_PAIR = struct.Struct("<qi")  # a value's hash and its row, as a sorted run stores them
_READ_PAIRS = 4096


class RowGrouper:
    """Groups rows joined by shared identifier values, in memory that stays small for a
    million rows: each (row, value) is kept as a 64-bit hash of the value and a row number
    in flat arrays (12 bytes), never as Python objects. Rows sharing a value have equal
    hashes and are grouped; two values with equal hashes by chance only put two unrelated
    rows in one batch, which changes no result (rows keep file order within a batch).

    Pairs are sorted SORT_CHUNK at a time; with `spill` (a factory of temporary binary
    files, given by the caller) each sorted run goes to its own file, so memory stays flat
    whatever the number of rows; without, runs stay in memory."""

    def __init__(self, spill: Callable[[], IO[bytes]] | None = None) -> None:
        self._spill = spill
        self._runs: list[Callable[[], Iterator[tuple[int, int]]]] = []
        self._rows = 0
        self._hashes = array("q")
        self._owners = array("i")
        self._sizes = array("i")  # each row's size in bytes, as the caller counts them
        self._is_link = array("b")  # 1 for a link (see `link`), 0 for a row of the file

    def add(self, identifiers: Iterable[Hashable], size: int = 0) -> int:
        """A row of the file, with its identifier values; its number among the rows."""
        return self._add(identifiers, size, link=False)

    def link(self, identifiers: Iterable[Hashable]) -> None:
        """Join the rows that have any of `identifiers` into one group, as a row holding
        them all would, but with no row of its own in any batch: e.g. the values an existing
        customer holds, so that rows reaching that customer through different values apply
        in file order."""
        self._add(identifiers, 0, link=True)

    def _add(self, identifiers: Iterable[Hashable], size: int, link: bool) -> int:
        row = self._rows
        self._rows += 1
        self._sizes.append(size)
        self._is_link.append(link)
        for ident in identifiers:
            self._hashes.append(hash(ident))
            self._owners.append(row)
        if len(self._hashes) >= SORT_CHUNK:
            self._sort_run()
        return row

    def _sort_run(self) -> None:
        """The pending pairs as one sorted run: spilled to a file, or kept as arrays."""
        pairs = sorted(zip(self._hashes, self._owners, strict=True))
        self._hashes, self._owners = array("q"), array("i")
        if self._spill is None:
            hashes = array("q", (h for h, _ in pairs))
            rows = array("i", (r for _, r in pairs))
            self._runs.append(lambda: zip(hashes, rows, strict=True))
            return
        target = self._spill()
        for start in range(0, len(pairs), _READ_PAIRS):
            target.write(b"".join(_PAIR.pack(*pair) for pair in pairs[start : start + _READ_PAIRS]))
        self._runs.append(lambda: _read_run(target))

    def _sorted_runs(self) -> list[Iterator[tuple[int, int]]]:
        if self._hashes:
            self._sort_run()
        runs = [run() for run in self._runs]
        self._runs = []
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
    ) -> tuple[array[int], list[int], list[int]]:
        """(batch index of each row of the file, in order; rows of each batch; rows of each
        batch whose group has a link: rows that reach what the links stand for). A batch is
        filled with whole groups in order of their first row and closes once it reaches
        `batch_size` rows, or would pass `max_bytes` with the next group; a group larger
        than either limit gets a batch of its own. Links take no place in batches."""
        roots = self._parents()
        is_link, self._is_link = self._is_link, array("b")
        group_rows = array("i", bytes(4 * self._rows))
        group_bytes = array("i", bytes(4 * self._rows))
        group_linked = array("b", bytes(self._rows))
        for row, root in enumerate(roots):
            if is_link[row]:
                group_linked[root] = 1
            else:
                group_rows[root] += 1
                group_bytes[root] = min(group_bytes[root] + self._sizes[row], 2**31 - 1)
        self._sizes = array("i")  # no longer needed: free it before the next arrays
        batch_of_group = array("i", [-1]) * self._rows
        sizes: list[int] = []
        linked: list[int] = []
        batch_bytes = 0
        for row, root in enumerate(roots):
            if is_link[row] or batch_of_group[root] >= 0:
                continue
            too_big = max_bytes is not None and batch_bytes + group_bytes[root] > max_bytes
            if not sizes or sizes[-1] >= batch_size or (too_big and sizes[-1] > 0):
                sizes.append(0)
                linked.append(0)
                batch_bytes = 0
            batch_of_group[root] = len(sizes) - 1
            sizes[-1] += group_rows[root]
            linked[-1] += group_rows[root] if group_linked[root] else 0
            batch_bytes += group_bytes[root]
        del group_rows, group_bytes, group_linked
        rows = 0
        for row, root in enumerate(roots):  # in place: each row's batch replaces its root
            if not is_link[row]:
                roots[rows] = batch_of_group[root]
                rows += 1
        del roots[rows:]
        return roots, sizes, linked


def _read_run(source: IO[bytes]) -> Iterator[tuple[int, int]]:
    source.seek(0)
    while block := source.read(_PAIR.size * _READ_PAIRS):
        yield from _PAIR.iter_unpack(block)
    source.close()
