"""Opening an uploaded file as rows: a CSV (domain.csvfile) or an Excel workbook
(domain.xlsxfile), told apart by the file's first bytes, behind one interface."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import IO, Protocol

from domain.csvfile import CsvLimits, CsvReader, CsvRow
from domain.formula_safety import unescaped
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


class FormulaEscapedTable:
    """A table whose cells were escaped for spreadsheets (the failed-rows CSV, sent back as a
    fix-and-retry import), read as the values they hold."""

    def __init__(self, table: TableReader) -> None:
        self._table = table
        self.header = [unescaped(name) for name in table.header]
        self.encoding = table.encoding
        self.delimiter = table.delimiter

    def __iter__(self) -> Iterator[CsvRow]:
        for row in self._table:
            yield dataclasses.replace(row, values=[unescaped(value) for value in row.values])


def open_table(
    stream: IO[bytes],
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
    limits: CsvLimits | None = None,
    formula_escaped: bool = False,
) -> TableReader:
    """The rows of a CSV (`delimiter`: None to detect it) or of one sheet of a workbook
    (`sheet`: None for the first). `formula_escaped`: the cells are read back unescaped
    (domain.formula_safety)."""
    table: TableReader
    if is_workbook(stream):
        table = XlsxReader(stream, sheet=sheet, limits=limits)
    else:
        table = CsvReader(stream, delimiter=delimiter or None, limits=limits)
    return FormulaEscapedTable(table) if formula_escaped else table
