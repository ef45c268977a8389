"""Opening an uploaded file as rows: a CSV (domain.csvfile) or an Excel workbook
(domain.xlsxfile), told apart by the file's first bytes, behind one interface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Protocol

from domain.csvfile import CsvLimits, CsvReader, CsvRow
from domain.xlsxfile import XLSX_SIGNATURE, XlsxReader


class TableReader(Protocol):
    header: list[str]
    encoding: str
    delimiter: str

    def __iter__(self) -> Iterator[CsvRow]: ...


def is_workbook(stream: IO[bytes]) -> bool:
    start = stream.tell()
    head = stream.read(len(XLSX_SIGNATURE))
    stream.seek(start)
    return head == XLSX_SIGNATURE


def open_table(
    stream: IO[bytes],
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
    limits: CsvLimits | None = None,
) -> TableReader:
    """The rows of a CSV (`delimiter`: None to detect it) or of one sheet of a workbook
    (`sheet`: None for the first)."""
    if is_workbook(stream):
        return XlsxReader(stream, sheet=sheet, limits=limits)
    return CsvReader(stream, delimiter=delimiter or None, limits=limits)
