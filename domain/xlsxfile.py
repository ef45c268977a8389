"""Reading an Excel workbook (.xlsx) as rows of text, like a CSV: one sheet (the first, or a
chosen one), streamed with openpyxl's read-only mode, so memory stays flat whatever the
number of rows. Formulas are read as the values Excel last calculated (`data_only`), never
evaluated. Cells become the text the schema's validation reads: numbers without a spurious
".0", dates as YYYY-MM-DD (with the time when there is one), booleans as true/false."""

from __future__ import annotations

import datetime as dt
import itertools
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from domain.csvfile import CsvLimits, CsvRow, checked_header, checked_row
from domain.errors import FileRejected

XLSX_SIGNATURE = b"PK\x03\x04"  # a ZIP archive, as every .xlsx is
XLSX_FORMAT = "xlsx"  # the "encoding" an import of a workbook reports


def cell_text(value: Any) -> str:
    """The text of a cell as the schema's validation reads it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip() if isinstance(value, str) else str(value)


def _trimmed(cells: tuple[Any, ...]) -> list[str]:
    texts = [cell_text(value) for value in cells]
    while texts and not texts[-1]:
        texts.pop()  # Excel often reports formatted but empty cells at the end of a row
    return texts


class XlsxReader:
    """Reads one sheet of a workbook from a seekable binary stream, one row at a time. Same
    interface as domain.csvfile.CsvReader: `header`, `encoding`, `delimiter`, rows."""

    encoding = XLSX_FORMAT
    delimiter = ""

    def __init__(
        self, stream: IO[bytes], sheet: str | None = None, limits: CsvLimits | None = None
    ) -> None:
        self.limits = limits or CsvLimits()
        try:
            self._workbook = load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
            raise FileRejected(
                f"The file is not a readable Excel workbook (.xlsx) ({error}); "
                "save it again as .xlsx or CSV."
            ) from None
        self.sheets: list[str] = list(self._workbook.sheetnames)
        if sheet is not None and sheet not in self.sheets:
            raise FileRejected(
                f"The workbook has no sheet {sheet!r}; its sheets are: {', '.join(self.sheets)}."
            )
        if not self.sheets:
            raise FileRejected("The workbook has no sheet.")
        self.sheet = sheet or self.sheets[0]
        self._rows = self._records()
        first = next(self._rows, None)
        if first is None:
            raise FileRejected(f"The sheet {self.sheet!r} is empty.")
        self.header = checked_header(first[1], self.limits)
        self._first = next(self._rows, None)
        if self._first is None:
            raise FileRejected("The file has a header row but no data rows.")

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(row number in the sheet, cell texts) of the rows that are not blank."""
        worksheet = self._workbook[self.sheet]
        for line, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
            texts = _trimmed(cells)
            if any(texts):
                yield line, texts

    def __iter__(self) -> Iterator[CsvRow]:
        width = len(self.header)
        first = [self._first] if self._first is not None else []
        self._first = None
        for number, (line, texts) in enumerate(itertools.chain(first, self._rows), start=1):
            yield checked_row(self.header, self.limits, number, line, _padded(texts, width))
        self._workbook.close()  # the archive only: the caller's stream stays open


def _padded(texts: list[str], width: int) -> list[str]:
    """Empty cells at the end of a row are not stored: the row is as wide as the header."""
    return texts + [""] * (width - len(texts)) if len(texts) < width else texts
