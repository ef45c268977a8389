"""Text a spreadsheet will not run as a formula, and back.

The failed-rows CSV is opened in spreadsheets, so a cell that a spreadsheet would read as a
formula gets a leading apostrophe. The same file comes back as a fix-and-retry import (and its
cells are what the UI's editor shows), so the escaping must be undone exactly: `unescaped`
is the inverse of `escaped` for every string. That is why a value that already starts with
an apostrophe followed by something escaped gets one more apostrophe."""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
# Phone numbers such as +12025550143 and signed numbers are not formulas: left as they are.
_PHONE_OR_NUMBER = re.compile(r"^[+-][\d\s().-]+$")


def _needs_escape(value: str) -> bool:
    rest = value.lstrip(ESCAPE)
    return rest.startswith(FORMULA_PREFIXES) and not _PHONE_OR_NUMBER.match(rest)


def escaped(value: str) -> str:
    """The value as a CSV cell a spreadsheet shows as text."""
    return ESCAPE + value if _needs_escape(value) else value


def unescaped(cell: str) -> str:
    """The value an `escaped` cell holds."""
    if cell.startswith(ESCAPE) and _needs_escape(cell[1:]):
        return cell[1:]
    return cell
