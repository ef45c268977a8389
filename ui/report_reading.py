"""What the pages read from an import's Excel report (store.reports writes it): the rows not
imported with their reasons (sheet Details), and how many updates changed nothing."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

ISSUE_ROWS_SHOWN = 20
IGNORED_REASON = "Ignored - duplicate found"  # DESIGN.md §3: the reason of every ignored row
# A reason that names the customer holding a value (domain.resolution): "... (id <id>)".
HOLDER = re.compile(r"another customer \(id ([0-9a-f]{24})\)")


def holder_of(reason: str) -> str | None:
    """The id of the customer a conflict's reason names, if it names one."""
    found = HOLDER.search(reason)
    return found[1] if found else None


def report_issues(
    report: bytes, failed_only: bool = False, shown: int = ISSUE_ROWS_SHOWN
) -> list[list[str]]:
    """Failed and ignored rows (or failed ones only) with their reasons, from the report's
    Details sheet, in file order: [spreadsheet row, identifiers, reason]."""
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Details"]
    found = []
    for row in sheet.iter_rows(min_row=2, max_col=3, values_only=True):
        cells = ["" if value is None else str(value) for value in row]
        if failed_only and cells[2] == IGNORED_REASON:
            continue
        found.append(cells)
        if len(found) >= shown:
            break
    return found


def unchanged_updates(report: bytes) -> int:
    """Updates that changed nothing (the report's "of which unchanged")."""
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Summary"]
    for row in sheet.iter_rows(max_col=2, max_row=12, values_only=True):
        if len(row) == 2 and str(row[0] or "").strip() == "of which unchanged":
            return int(row[1] or 0)
    return 0
