"""Reading an Excel workbook (.xlsx) as rows of text, like a CSV: one sheet (the active one
when it is visible, else the first visible one, or a chosen one), streamed from the ZIP with
expat, so memory stays flat whatever the number of rows.

Nothing in the file is trusted: every XML part with a DOCTYPE (entity bombs, external
entities) is refused before anything in it is read, the unpacked bytes, the shared strings
and the columns are bounded as they are read, and the sheet's declared `dimension` is
ignored (only the cells it holds cost anything). Formulas are read as the values Excel last
calculated, never evaluated; a formula without one fails its row, naming the cell. Cells
become the text the schema's validation reads: numbers without a spurious ".0", dates as
YYYY-MM-DD (with the time when there is one), booleans as true/false."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import from_excel

from domain.csvfile import (
    CsvLimits,
    CsvRow,
    blank_start,
    checked_header,
    checked_row,
)
from domain.errors import FileRejected
from domain.xlsxparts import (
    Handler,
    Package,
    SharedStrings,
    WorkbookPart,
    date_styles,
    excel_unescaped,
    local_name,
    of_type,
)

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


def _number(text: str) -> float | int:
    return float(text) if any(c in text for c in ".eE") else int(text)


Row = tuple[int, list[str], str | None]  # sheet row, cell texts, what makes it fail


class _SheetRows:
    """expat handlers that turn a sheet's XML into rows as it is read."""

    def __init__(
        self, strings: SharedStrings, dates: set[int], epoch: dt.datetime, max_columns: int
    ) -> None:
        self.rows: deque[Row] = deque()
        self.scanned = 0  # rows read, blank ones included
        self._strings, self._dates, self._epoch = strings, dates, epoch
        self._max_columns = max_columns
        self._line = 0
        self._cells: dict[int, str] = {}
        self._width = 0
        self._error: str | None = None
        self._column = 0
        self._reference = ""
        self._type = ""
        self._style = 0
        self._parts: list[str] = []
        self._collect = False
        self._has_value = False
        self._formula = False
        self._phonetic = 0

    def handlers(self) -> dict[str, Handler]:
        return {
            "StartElementHandler": self._start,
            "EndElementHandler": self._end,
            "CharacterDataHandler": self._text,
        }

    def _start(self, element: str, attributes: dict[str, str]) -> None:
        local = local_name(element)
        if local == "c":
            self._reference = attributes.get("r", "")
            letters = self._reference.rstrip("0123456789")
            self._column = column_index_from_string(letters) if letters else self._column + 1
            self._type = attributes.get("t", "n")
            self._style = int(attributes.get("s", "0") or 0)
            self._parts, self._has_value, self._formula = [], False, False
        elif local == "v" or (local == "t" and not self._phonetic):
            self._collect = True
            self._has_value = True
        elif local == "f":
            self._formula = True
        elif local == "rPh":
            self._phonetic += 1
        elif local == "row":
            self._line = int(attributes.get("r", "0") or 0) or self._line + 1
            self._cells, self._width, self._error, self._column = {}, 0, None, 0

    def _text(self, data: str) -> None:
        if self._collect:
            self._parts.append(data)

    def _end(self, element: str) -> None:
        local = local_name(element)
        if local in ("v", "t"):
            self._collect = False
        elif local == "rPh":
            self._phonetic -= 1
        elif local == "c":
            self._end_cell()
        elif local == "row":
            self.scanned += 1
            if self._cells or self._error:
                texts = [
                    self._cells.get(i, "")
                    for i in range(1, min(self._width, self._max_columns + 1) + 1)
                ]
                self.rows.append((self._line, texts, self._error or self._too_wide()))

    def _too_wide(self) -> str | None:
        if self._width <= self._max_columns:
            return None
        return (
            f"Row has a value in column {get_column_letter(self._width)}, past the "
            f"{self._max_columns} columns an import reads"
        )

    def _end_cell(self) -> None:
        raw = "".join(self._parts)
        reference = self._reference or f"{get_column_letter(self._column)}{self._line}"
        # Excel saves what a formula last gave in <v> (empty for an empty text result); a
        # program that wrote the formula without calculating it leaves <v> out or empty.
        if self._formula and not (self._has_value and (raw or self._type == "str")):
            self._error = self._error or (
                f"Cell {reference} holds a formula with no saved value; open the workbook in "
                "Excel, let it calculate and save it again"
            )
            return
        try:
            text = self._cell_text(raw)
        except (ValueError, IndexError, OverflowError):
            text, self._error = "", self._error or f"Cell {reference} cannot be read"
        if text:
            self._cells[self._column] = text
            self._width = max(self._width, self._column)

    def _cell_text(self, raw: str) -> str:
        kind = self._type
        if not self._has_value or not raw:
            return ""
        if kind == "s":
            return self._strings[int(raw)].strip()
        if kind in ("inlineStr", "str"):
            return excel_unescaped(raw).strip()
        if kind == "e":
            return raw.strip()
        if kind == "b":
            return cell_text(raw.strip() in ("1", "true"))
        if kind == "d":
            return cell_text(dt.datetime.fromisoformat(raw.strip()))
        number = _number(raw.strip())
        if self._style in self._dates:
            return cell_text(from_excel(number, self._epoch))
        return cell_text(number)


class XlsxReader:
    """Reads one sheet of a workbook from a seekable binary stream, one row at a time. Same
    interface as domain.csvfile.CsvReader: `header`, `encoding`, `delimiter`, rows; and the
    workbook's visible `sheets`."""

    encoding = XLSX_FORMAT
    delimiter = ""

    def __init__(
        self, stream: IO[bytes], sheet: str | None = None, limits: CsvLimits | None = None
    ) -> None:
        self.limits = limits or CsvLimits()
        self.scan_cut = False  # a preview stopped before the end of the sheet
        self._package = Package(stream, self.limits)
        workbook = WorkbookPart(self._package)
        self.sheets = workbook.visible()
        self.sheet = workbook.chosen(sheet)
        part = workbook.part_of(self.sheet)
        if not self._package.has(part):
            raise FileRejected(f"The workbook names no content for its sheet {self.sheet!r}.")
        strings = SharedStrings(
            self._package, of_type(workbook.relationships, "sharedStrings"), self.limits
        )
        dates = date_styles(self._package, of_type(workbook.relationships, "styles"))
        self._sheet = _SheetRows(strings, dates, workbook.epoch, self.limits.max_columns)
        self._rows = self._records(part)
        first = next(self._rows, None)
        if first is None:
            raise FileRejected(
                blank_start(self.limits) if self.scan_cut else f"The sheet {self.sheet!r} is empty."
            )
        _, texts, error = first
        if error:
            raise FileRejected(f"The header row cannot be read: {error}.")
        self.header = checked_header(texts, self.limits)
        self._first = next(self._rows, None)
        if self._first is None and not self.scan_cut:
            raise FileRejected("The file has a header row but no data rows.")

    def _records(self, part: str) -> Iterator[Row]:
        """The rows that are not blank, handed out as the sheet's XML is read; a preview
        (`limits.scan_rows`) stops after that many rows, blank ones included."""
        pending, scan = self._sheet.rows, self.limits.scan_rows
        for _ in self._package.parse(part, self._sheet.handlers()):
            while pending:
                yield pending.popleft()
            if scan is not None and self._sheet.scanned >= scan:
                self.scan_cut = True
                return
        while pending:
            yield pending.popleft()

    def __iter__(self) -> Iterator[CsvRow]:
        first = [self._first] if self._first is not None else []
        self._first = None
        width = len(self.header)
        rows = itertools.chain(first, self._rows)
        for number, (line, texts, error) in enumerate(rows, start=1):
            values = texts + [""] * (width - len(texts)) if len(texts) < width else texts
            if error:
                yield CsvRow(number, line, values, error)
            else:
                yield checked_row(self.header, self.limits, number, line, values)
        self._package.close()
