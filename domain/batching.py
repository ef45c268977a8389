"""Splitting a file's rows into batches so that rows sharing any channel-identifier value
land in the same batch, in file order. Batches are then independent of each other: any
number of workers can process them in any order with the same result as row-by-row."""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class RowGrouper:
    """Union-find over rows, joined by shared identifier values. Holds only ints and the
    identifier values, never the rows themselves."""

    def __init__(self) -> None:
        self._parent: list[int] = []
        self._owner: dict[Hashable, int] = {}

    def add(self, identifiers: Iterable[Hashable]) -> int:
        row = len(self._parent)
        self._parent.append(row)
        for ident in identifiers:
            other = self._owner.setdefault(ident, row)
            if other != row:
                self._union(other, row)
        return row

    def _find(self, row: int) -> int:
        parent = self._parent
        root = row
        while parent[root] != root:
            root = parent[root]
        while parent[row] != root:  # path compression
            parent[row], row = root, parent[row]
        return root

    def _union(self, a: int, b: int) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            # The earlier row stays the root, so a group's root is its first row.
            low, high = sorted((root_a, root_b))
            self._parent[high] = low

    def assign_batches(self, batch_size: int) -> tuple[list[int], list[int]]:
        """(batch index of each row, size of each batch). A batch is filled with whole
        groups in order of their first row and closes once it reaches `batch_size` rows;
        a group larger than `batch_size` gets a batch of its own size."""
        self._owner.clear()  # no more rows: free the identifier values
        group_size: dict[int, int] = {}
        roots = [self._find(row) for row in range(len(self._parent))]
        for root in roots:
            group_size[root] = group_size.get(root, 0) + 1
        batch_of_group: dict[int, int] = {}
        sizes: list[int] = []
        for root in roots:
            if root in batch_of_group:
                continue
            if not sizes or sizes[-1] >= batch_size:
                sizes.append(0)
            batch_of_group[root] = len(sizes) - 1
            sizes[-1] += group_size[root]
        return [batch_of_group[root] for root in roots], sizes
