"""Suggesting which schema attribute each CSV column holds, and applying user overrides."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import InvalidRequest
from domain.schema import RecordSchema

CONFIDENCE_BAR = 0.75


@dataclass(frozen=True)
class ColumnSuggestion:
    column: str
    field: str | None
    method: str  # exact | normalized | synonym | fuzzy | content | none
    confidence: float


def normalize_header(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", text.lower())


def suggest_mapping(
    header: Sequence[str], sample_rows: Sequence[Sequence[str]], schema: RecordSchema
) -> list[ColumnSuggestion]:
    by_key = {a.key: a for a in schema.attributes}
    by_normalized = {normalize_header(a.key): a.key for a in schema.attributes}
    by_normalized.update({normalize_header(a.label): a.key for a in schema.attributes})
    by_synonym = {normalize_header(s): a.key for a in schema.attributes for s in a.synonyms}
    taken_single: set[str] = set()
    suggestions = []
    for column in header:
        field, method, confidence = None, "none", 0.0
        norm = normalize_header(column)
        if column in by_key:
            field, method, confidence = column, "exact", 1.0
        elif norm in by_normalized:
            field, method, confidence = by_normalized[norm], "normalized", 0.95
        elif norm in by_synonym:
            field, method, confidence = by_synonym[norm], "synonym", 0.9
        if field is not None:
            attribute = by_key[field]
            if not attribute.multi_value:
                if field in taken_single:
                    field, method, confidence = None, "none", 0.0
                else:
                    taken_single.add(field)
        suggestions.append(ColumnSuggestion(column, field, method, confidence))
    return suggestions


def resolve_mapping(
    header: Sequence[str],
    suggestions: Sequence[ColumnSuggestion],
    overrides: Mapping[str, str | None] | None,
    schema: RecordSchema,
) -> dict[str, str]:
    """Column name → attribute key, after the user's overrides; validated."""
    mapping = {s.column: s.field for s in suggestions if s.field is not None}
    if overrides:
        unknown_columns = [c for c in overrides if c not in header]
        if unknown_columns:
            raise InvalidRequest(
                f"Mapping names columns that are not in the file: {', '.join(unknown_columns)}"
            )
        for column, field in overrides.items():
            if field is None:
                mapping.pop(column, None)
            else:
                mapping[column] = field
    unknown = sorted({f for f in mapping.values() if schema.attribute(f) is None})
    if unknown:
        raise InvalidRequest(f"Mapping names unknown attributes: {', '.join(unknown)}")
    used: dict[str, str] = {}
    for column, field in mapping.items():
        attribute = schema.attribute(field)
        assert attribute is not None
        if not attribute.multi_value and field in used:
            raise InvalidRequest(
                f"Columns {used[field]!r} and {column!r} both map to {field!r}, "
                "which holds a single value"
            )
        used.setdefault(field, column)
    return mapping


def missing_required(mapping: Mapping[str, str], schema: RecordSchema) -> list[str]:
    mapped = set(mapping.values())
    return [key for key in schema.required_keys if key not in mapped]
