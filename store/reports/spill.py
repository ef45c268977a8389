"""Records sorted by number in bounded memory: an external sort (sorted chunks spilled to a
temporary file as runs, merged back), for report rows that arrive by batch, not by number."""

from __future__ import annotations

import heapq
import io
import os
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import IO, Any

# Memory bounds (none depends on the number of records).
SORT_CHUNK_BYTES = 4 * 1024 * 1024  # about this much record data is sorted in memory at once
MERGE_FAN_IN = 64  # runs merged at once; more runs are first merged into fewer, longer ones
RUN_BUFFER_BYTES = 64 * 1024  # read buffer of each run being merged
RUN_BLOCK = 256  # records pickled at once (a run being merged holds one block in memory)

Record = tuple[int, str, Any]  # (row number, outcome, what the report shows of the row)
_number = itemgetter(0)


class _RunReader(io.RawIOBase):
    """One run of a spill file, read with pread: any number of runs of the same file can be
    read side by side, each at its own position."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._fd, self._position, self._end = fd, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._end - self._position)
        if size <= 0:
            return 0
        data = os.pread(self._fd, size, self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class SortedSpill:
    """Records in, records out sorted by their first item (an int), with bounded memory:
    records gather in a chunk of about SORT_CHUNK_BYTES, which is sorted and written to a
    temporary file as a run; reading merges the runs (MERGE_FAN_IN at a time, in passes when
    there are more). Records are pickled: the file is ours and temporary."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._runs: list[tuple[int, int]] = []
        self._chunk: list[Record] = []
        self._chunk_bytes = 0

    def __enter__(self) -> SortedSpill:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._chunk = []

    def add(self, record: Record, size: int) -> None:
        """`size`: about how many bytes the record holds in memory."""
        self._chunk.append(record)
        self._chunk_bytes += size
        if self._chunk_bytes >= SORT_CHUNK_BYTES:
            self._spill()

    def _spill(self) -> None:
        if not self._chunk:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._chunk.sort(key=_number)
        self._runs.append(_write_run(self._file, self._chunk))
        self._chunk, self._chunk_bytes = [], 0

    def sorted(self) -> Iterator[Record]:
        """Every record added, by number; call once, after the last `add`."""
        if self._file is None:  # everything fitted in one chunk
            chunk, self._chunk = self._chunk, []
            chunk.sort(key=_number)
            return iter(chunk)
        self._spill()
        while len(self._runs) > MERGE_FAN_IN:
            self._merge_pass()
        return self._merged(self._runs)

    def _merged(self, runs: list[tuple[int, int]]) -> Iterator[Record]:
        assert self._file is not None
        self._file.flush()
        fd = self._file.fileno()
        readers = [_read_run(fd, start, end) for start, end in runs]
        return heapq.merge(*readers, key=_number)

    def _merge_pass(self) -> None:
        target = tempfile.TemporaryFile()  # noqa: SIM115 - becomes self._file
        runs = [
            _write_run(target, self._merged(self._runs[i : i + MERGE_FAN_IN]))
            for i in range(0, len(self._runs), MERGE_FAN_IN)
        ]
        self.close()
        self._file, self._runs = target, runs


def _write_run(target: IO[bytes], records: Iterable[Record]) -> tuple[int, int]:
    """Records pickled RUN_BLOCK at a time: a pickle call per record costs more than the
    record's own pickling."""
    start = target.seek(0, os.SEEK_END)
    block: list[Record] = []
    for record in records:
        block.append(record)
        if len(block) == RUN_BLOCK:
            pickle.dump(block, target, protocol=pickle.HIGHEST_PROTOCOL)
            block = []
    if block:
        pickle.dump(block, target, protocol=pickle.HIGHEST_PROTOCOL)
    return start, target.tell()


def _read_run(fd: int, start: int, end: int) -> Iterator[Record]:
    source = io.BufferedReader(_RunReader(fd, start, end), buffer_size=RUN_BUFFER_BYTES)
    while True:
        try:
            yield from pickle.load(source)  # our own temporary file, written just above
        except EOFError:
            return
