"""Pure helpers behind the import page's mapping table: which columns need a person's eye,
and the API's check of the chosen mapping (what it lacks, the rows as it imports them) in a
person's words. The rules themselves are the API's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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


def column_flag(
    suggestion: Mapping[str, Any], chosen: str | None, confidence_bar: float
) -> str | None:
    """'unmapped' or 'low confidence' for a column the user should look at, given what is
    chosen for it now and the API's bar of a confident suggestion; None otherwise (a
    person's own choice needs no second look)."""
    if chosen is None:
        return "unmapped"
    if chosen == suggestion["field"] and float(suggestion["confidence"]) < confidence_bar:
        return "low confidence"
    return None


def suggestion_words(suggestion: Mapping[str, Any]) -> str:
    """Why the column got its suggestion, without jargon: "Similar name, 72% sure"."""
    if suggestion["field"] is None:
        return "No suggestion"
    how = METHOD_WORDS.get(suggestion["method"], suggestion["method"])
    return f"{how}, {float(suggestion['confidence']):.0%} sure"


def attribute_display(key: str, attributes: Sequence[Attribute]) -> str:
    return next((a.display for a in attributes if a.key == key), key)


def preview_table(
    preview_rows: Sequence[Mapping[str, Sequence[str]]],
    mapping: Mapping[str, str | None],
    attributes: Sequence[Attribute],
) -> list[dict[str, str]]:
    """The API's preview of the rows as the chosen mapping imports them, keyed by attribute
    label in schema order: one column per mapped attribute, its values joined."""
    shown = [a for a in attributes if a.key in set(mapping.values())]
    return [{a.display: ", ".join(row.get(a.key, [])) for a in shown} for row in preview_rows]
