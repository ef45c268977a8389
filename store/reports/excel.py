"""Writing Excel sheets in openpyxl's write-only mode (the schema's Excel template): text cells
that never become formulas, a bold frozen header, column widths and filters; and the text a
cell may hold, which the reports' own writer (store.reports.xlsx) shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# The control characters XML 1.0 cannot hold (openpyxl's pattern, typed here).
CONTROL_CHARACTERS: re.Pattern[str] = ILLEGAL_CHARACTERS_RE
EXCEL_CELL_LIMIT = 32_767
TRUNCATION_MARK = "…[truncated]"
REPORT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cell_text(value: Any) -> str:
    """`value` as a cell's text, marked where cut at Excel's limit of a cell."""
    text: str = "" if value is None else str(value)
    if len(text) > EXCEL_CELL_LIMIT:
        text = text[: EXCEL_CELL_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return text


def sheet_text(value: Any) -> str:
    """`cell_text` without the control characters openpyxl cannot write (the template's
    texts are the schema's own; the reports' writer keeps them, see store.reports.xlsx)."""
    return cell_text(CONTROL_CHARACTERS.sub("", "" if value is None else str(value)))


def text_cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    """A cell that always holds text: user data never becomes a formula."""
    cell = WriteOnlyCell(sheet, value=sheet_text(value))
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    return cell


def frame_sheet(sheet: WriteOnlyWorksheet, widths: Sequence[float]) -> None:
    """The header row frozen (it stays in view) and the columns sized; before any row is
    written (a write-only sheet writes these first)."""
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def filter_rows(sheet: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    """A filter on each column of the header, over the `rows` rows below it."""
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(1, columns))}{rows + 1}"


def header_row(sheet: WriteOnlyWorksheet, names: list[str], widths: Sequence[float] = ()) -> None:
    """The bold header, frozen; a column's width is given, or fits its name."""
    frame_sheet(sheet, [*widths, *(min(40, max(12, len(n) + 4)) for n in names[len(widths) :])])
    cells = []
    for name in names:
        cell = text_cell(sheet, name)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)
