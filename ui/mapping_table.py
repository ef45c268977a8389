"""Pure helpers behind the import page's mapping table: which columns need a person's eye,
what the chosen mapping still lacks, and the preview of rows as they will be imported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.mapping import CONFIDENCE_BAR


@dataclass(frozen=True)
class Attribute:
    key: str
    label: str
    required: bool
    multi_value: bool

    @property
    def display(self) -> str:
        return f"{self.label} ({self.key})"

    @property
    def choice(self) -> str:
        """As offered in the mapping table's drop-downs: mandatory ones say so."""
        return f"{self.display} · required" if self.required else self.display


def attributes_of(schema: Mapping[str, Any]) -> list[Attribute]:
    return [
        Attribute(a["key"], a["label"], bool(a["required"]), bool(a["multiValue"]))
        for a in schema["attributes"]
    ]


# How a suggestion was found, in the words of the person reading the table.
METHOD_WORDS = {
    "exact": "Same name",
    "normalized": "Same name",
    "synonym": "Known other name",
    "fuzzy": "Similar name",
    "content": "Its values look like it",
    "remembered": "Chosen before for these columns",
}


def column_flag(suggestion: Mapping[str, Any], chosen: str | None) -> str | None:
    """'unmapped' or 'low confidence' for a column the user should look at, given what is
    chosen for it now; None otherwise (a person's own choice needs no second look)."""
    if chosen is None:
        return "unmapped"
    if chosen == suggestion["field"] and float(suggestion["confidence"]) < CONFIDENCE_BAR:
        return "low confidence"
    return None


def suggestion_words(suggestion: Mapping[str, Any]) -> str:
    """Why the column got its suggestion, without jargon: "Similar name, 72% sure"."""
    if suggestion["field"] is None:
        return "No suggestion"
    how = METHOD_WORDS.get(suggestion["method"], suggestion["method"])
    return f"{how}, {float(suggestion['confidence']):.0%} sure"


def missing_required(
    mapping: Mapping[str, str | None], attributes: Sequence[Attribute]
) -> list[Attribute]:
    mapped = set(mapping.values())
    return [a for a in attributes if a.required and a.key not in mapped]


def single_values_mapped_twice(
    mapping: Mapping[str, str | None], attributes: Sequence[Attribute]
) -> dict[Attribute, list[str]]:
    """Single-value attributes that more than one column maps to (the API rejects those)."""
    columns_of: dict[str, list[str]] = {}
    for column, field in mapping.items():
        if field is not None:
            columns_of.setdefault(field, []).append(column)
    return {
        a: columns_of[a.key]
        for a in attributes
        if not a.multi_value and len(columns_of.get(a.key, [])) > 1
    }


def preview_rows(
    sample_rows: Sequence[Mapping[str, str]],
    mapping: Mapping[str, str | None],
    attributes: Sequence[Attribute],
    separator: str,
) -> list[dict[str, str]]:
    """The sample rows keyed by attribute label, in schema order: multi-value cells split on
    the separator and gathered across columns, empty cells left out (as the import does).
    Values are shown as written; the import validates and normalises them."""
    shown = [a for a in attributes if a.key in set(mapping.values())]
    rows = []
    for sample in sample_rows:
        values: dict[str, list[str]] = {}
        for column, field in mapping.items():
            cell = (sample.get(column) or "").strip()
            if field is None or not cell:
                continue
            attribute = next(a for a in attributes if a.key == field)
            parts = cell.split(separator) if attribute.multi_value and separator else [cell]
            values.setdefault(field, []).extend(p.strip() for p in parts if p.strip())
        rows.append({a.display: ", ".join(values.get(a.key, [])) for a in shown})
    return rows
