"""The rows of an import's report and failed-rows CSV in a person's words (DESIGN.md §6): a
row's identifiers, the customer's name, an update's changes, a row's reason. Pure: the store
reads the rows and writes the files (store/reports/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

WRITTEN = ("imported", "updated")  # outcomes listed with their customer id, on their own sheets
NOTHING_CHANGED = "(nothing changed)"

# What the report shows of a row: of a WRITTEN one (spreadsheet row, customer id, name,
# identifiers, changes); of any other (spreadsheet row, identifiers, reason, raw cells).
Detail = tuple[Any, ...]


def identifiers_text(values: Mapping[str, Any], keys: Sequence[str]) -> str:
    shown = []
    for key in keys:
        value = values.get(key)
        if value:
            shown.append(", ".join(map(str, value)) if isinstance(value, list) else str(value))
    return "; ".join(shown)


def _shown(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "(empty)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def changes_text(changes: Sequence[Any]) -> str:
    """An update's changes as a person reads them: "city: Rome → Paris; labels: vip → vip, gold"."""
    return "; ".join(f"{key}: {_shown(old)} → {_shown(new)}" for key, old, new in changes)


def name_of(values: Mapping[str, Any]) -> str:
    return " ".join(str(values[k]) for k in ("firstName", "lastName") if values.get(k))


def report_detail(
    result: Mapping[str, Any],
    row: Mapping[str, Any],
    header: Sequence[str],
    mapping: Mapping[str, str],
    identifier_keys: Sequence[str],
) -> Detail:
    """What the report shows of one row with its result (the row may be missing: {})."""
    number = result["number"]
    line = row.get("line") or number + 1
    raw = row.get("raw") or []
    # A row that failed validation has no normalised values: show what the file had.
    shown = row.get("values") or {
        mapping[c]: v
        for c, v in zip(header, raw, strict=False)
        if mapping.get(c) in identifier_keys and v
    }
    identifiers = identifiers_text(shown, identifier_keys)
    if result["outcome"] in WRITTEN:
        changes = changes_text(result.get("changes") or [])
        return (line, result.get("customer_id") or "", name_of(shown), identifiers, changes)
    return (line, identifiers, result.get("reason") or "", raw)


def failed_row_cells(raw: Sequence[str], reason: str, width: int) -> list[str]:
    """A failed row as the failed-rows CSV has it: its cells in the header's `width` columns,
    then its reason; a long row's extra cells are named in the reason."""
    cells = [*raw[:width], *[""] * (width - len(raw))]
    if len(raw) > width:
        reason = f"{reason} (extra cells: {', '.join(raw[width:])})"
    return [*cells, reason]


def cancelled_note(processed_rows: int, total_rows: int, resumed_by: str | None) -> str:
    """How far a cancelled import got, for its report."""
    left = total_rows - processed_rows
    rest = f"were left to its resume, import {resumed_by}" if resumed_by else "were not imported"
    return f"{processed_rows:,} of {total_rows:,} rows processed; the other {left:,} {rest}"
