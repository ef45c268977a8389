"""The checked rows of a file being planned, kept in a temporary file in file order until
their batches are known (store.jobs.planning). Each row is kept as its BSON document: a
batch's packed rows are then made of those bytes as they are (store.documents.pack_encoded),
where pickling the rows, reading them back and encoding them for the batch cost a fifth of
planning (py-spy, `bench.planning --case new`)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO, Any

import bson

_LENGTH = struct.Struct("<i")  # a BSON document starts with its size in bytes
WRITE_BYTES = 1 << 20  # rows gathered before a write to the file
READ_BYTES = 1 << 20


class RowSpool:
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def add(self, row: dict[str, Any]) -> None:
        encoded = bson.encode(row)
        self._pending.append(encoded)
        self._pending_bytes += len(encoded)
        if self._pending_bytes >= WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        self.file.write(b"".join(self._pending))
        self._pending, self._pending_bytes = [], 0

    def rows(self) -> Iterator[bytes]:
        """Each row's BSON document, in the order they were added."""
        self._flush()
        self.file.seek(0)
        buffer, start = b"", 0
        while chunk := self.file.read(READ_BYTES):
            buffer = buffer[start:] + chunk
            start = 0
            while start + 4 <= len(buffer):
                (size,) = _LENGTH.unpack_from(buffer, start)
                if start + size > len(buffer):
                    break  # the rest of this row is in the next chunk
                yield buffer[start : start + size]
                start += size
        if start != len(buffer):
            raise ValueError("the row spool ends inside a row")
