"""Splitting a file's rows into batches so that rows sharing any channel-identifier value
land in the same batch, in file order. Batches are then independent of each other: any
number of workers can process them in any order with the same result as row-by-row."""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import IO, NamedTuple

# Pairs sorted at once: bounds the transient memory of grouping (a few tens of MB).
SORT_CHUNK = 200_000
_HASH_BYTES, _ROW_BYTES = array("q").itemsize, array("i").itemsize  # as a spilled run stores them
_READ_PAIRS = 4096


class Batches(NamedTuple):
    of_row: array[int]  # the batch of each row of the file, in order
    sizes: list[int]  # the rows of each batch
    linked: list[int]  # the rows of each batch whose group has a link: they reach its values
    of_link: array[int]  # each link's batch (see RowGrouper.link), in order; -1: none


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
        them all would, but with no row of its own in any batch: e.g. a value an existing
        customer holds and that customer, so that rows reaching the customer through
        different values apply in file order. The link's batch (Batches.of_link) is the
        batch of the rows that have its first identifier, if any row has it."""
        self._add(identifiers, 0, link=True)

    def _add(self, identifiers: Iterable[Hashable], size: int, link: bool) -> int:
        row = self._rows
        self._rows += 1
        self._sizes.append(size)
        self._is_link.append(link)
        # A link's first pair carries its row as ~row (negative): how `_parents` tells which
        # rows of the file have that value.
        owner = ~row if link else row
        for ident in identifiers:
            self._hashes.append(hash(ident))
            self._owners.append(owner)
            owner = row
        if len(self._hashes) >= SORT_CHUNK:
            self._sort_run()
        return row

    def _sort_run(self) -> None:
        """The pending pairs as one sorted run: spilled to two files (the hashes, the rows),
        or kept as arrays, in order of their hashes (a stable sort of the hashes alone: sorting
        the pairs as tuples took twice as long)."""
        pending_hashes, pending_rows = self._hashes, self._owners
        self._hashes, self._owners = array("q"), array("i")
        order = sorted(range(len(pending_hashes)), key=pending_hashes.__getitem__)
        hashes = array("q", map(pending_hashes.__getitem__, order))
        rows = array("i", map(pending_rows.__getitem__, order))
        del order, pending_hashes, pending_rows
        if self._spill is None:
            self._runs.append(lambda: zip(hashes, rows, strict=True))
            return
        hash_file, row_file = self._spill(), self._spill()
        hash_file.write(hashes.tobytes())
        row_file.write(rows.tobytes())
        self._runs.append(lambda: _read_run(hash_file, row_file))

    def _sorted_runs(self) -> list[Iterator[tuple[int, int]]]:
        if self._hashes:
            self._sort_run()
        runs = [run() for run in self._runs]
        self._runs = []
        return runs

    def _parents(self) -> tuple[array[int], array[int]]:
        """Each row's group (its first row), and for each row whether it is a link whose
        first value some row of the file has."""
        parent = array("i", range(self._rows))
        is_link = self._is_link
        found = array("b", bytes(self._rows))
        waiting: list[int] = []  # links whose first value is the current hash
        has_row = False  # a row of the file has the current hash

        def settle(run_has_row: bool) -> None:
            """The links waiting on a run of equal hashes: found if a row of the file has it."""
            if run_has_row:
                for link in waiting:
                    found[link] = 1
            waiting.clear()

        def find(row: int) -> int:
            root = row
            while parent[root] != root:
                root = parent[root]
            while parent[row] != root:  # path compression
                parent[row], row = root, parent[row]
            return root

        last_hash: int | None = None
        first_row = -1
        # Equal hashes arrive together: join each row to the first of them.
        for value_hash, owner in heapq.merge(*self._sorted_runs()):
            row = ~owner if owner < 0 else owner
            if value_hash != last_hash:
                if waiting:
                    settle(has_row)
                has_row = False
                last_hash, first_row = value_hash, row
            else:
                root_a, root_b = find(first_row), find(row)
                if root_a != root_b:
                    # The earlier row stays the root, so a group's root is its first row.
                    low, high = sorted((root_a, root_b))
                    parent[high] = low
            if owner < 0:
                waiting.append(row)
            elif not is_link[row]:
                has_row = True
        settle(has_row)
        for row in range(self._rows):
            parent[row] = find(row)
        return parent, found

    def assign_batches(self, batch_size: int, max_bytes: int | None = None) -> Batches:
        """The rows in batches (see Batches). A batch is filled with whole groups in order
        of their first row and closes once it reaches `batch_size` rows, or would pass
        `max_bytes` with the next group; a group larger than either limit gets a batch of
        its own. Links take no place in batches."""
        roots, found = self._parents()
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
        of_link = array("i")
        rows = 0
        for row, root in enumerate(roots):  # in place: each row's batch replaces its root
            if is_link[row]:
                of_link.append(batch_of_group[root] if found[row] else -1)
            else:
                roots[rows] = batch_of_group[root]
                rows += 1
        del roots[rows:]
        return Batches(roots, sizes, linked, of_link)


def _read_run(hash_file: IO[bytes], row_file: IO[bytes]) -> Iterator[tuple[int, int]]:
    hash_file.seek(0)
    row_file.seek(0)
    while block := hash_file.read(_HASH_BYTES * _READ_PAIRS):
        hashes = array("q", block)
        yield from zip(hashes, array("i", row_file.read(_ROW_BYTES * len(hashes))), strict=True)
    hash_file.close()
    row_file.close()
