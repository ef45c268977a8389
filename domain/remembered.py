"""Remembered mappings: the mapping a person chose for a set of headers, suggested again for
a file with the same headers (in any order, case and spacing aside) or nearly the same.
Pure: store.mappings keeps them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.mapping import ColumnSuggestion
from domain.schema import RecordSchema

# Two header sets are nearly the same when they share at least this share of all their
# headers (|A ∩ B| / |A ∪ B|): 9 of 10 shared and one more or one fewer still match.
NEARLY_THE_SAME = 0.75
REMEMBERED = "remembered"


def header_key(name: str) -> str:
    """A header as matching sees it: case and all spacing aside."""
    return "".join(name.casefold().split())


def header_set(header: Iterable[str]) -> frozenset[str]:
    return frozenset(header_key(name) for name in header)


def header_set_id(header: Iterable[str]) -> str:
    """The same id for the same header set, whatever the order, case and spacing."""
    joined = "\n".join(sorted(header_set(header)))
    return hashlib.sha1(joined.encode()).hexdigest()[:24]


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass(frozen=True)
class RememberedMapping:
    id: str
    fields: Mapping[str, str | None]  # header key → attribute key, or None: left out

    @property
    def headers(self) -> frozenset[str]:
        return frozenset(self.fields)


def best_match(
    header: Sequence[str], candidates: Iterable[RememberedMapping]
) -> RememberedMapping | None:
    """The remembered mapping whose header set is the file's, else the most similar one
    that is nearly the same; None when there is none."""
    wanted = header_set(header)
    scored = [(similarity(wanted, c.headers), c.id, c) for c in candidates]
    scored = [s for s in scored if s[0] >= NEARLY_THE_SAME]
    return max(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def with_remembered(
    suggestions: Sequence[ColumnSuggestion], remembered: RememberedMapping, schema: RecordSchema
) -> list[ColumnSuggestion]:
    """The suggestions with every column the remembered mapping knows taken from it (method
    "remembered"); other columns keep their own, unless they would take a single-value
    attribute that a remembered column has."""
    chosen: dict[str, str | None] = {}
    for suggestion in suggestions:
        key = header_key(suggestion.column)
        if key in remembered.fields:
            field = remembered.fields[key]
            chosen[suggestion.column] = field if field and schema.attribute(field) else None
    taken = {f for f in chosen.values() if f and not _multi_value(schema, f)}
    result = []
    for suggestion in suggestions:
        if suggestion.column in chosen:
            result.append(
                ColumnSuggestion(suggestion.column, chosen[suggestion.column], REMEMBERED, 1.0)
            )
        elif suggestion.field in taken:
            result.append(ColumnSuggestion(suggestion.column, None, "none", 0.0))
        else:
            result.append(suggestion)
    return result


def _multi_value(schema: RecordSchema, key: str) -> bool:
    attribute = schema.attribute(key)
    return attribute is not None and attribute.multi_value


def adjusted(mapping: Mapping[str, str], suggestions: Sequence[ColumnSuggestion]) -> bool:
    """Whether the mapping imported differs from what was suggested: then it is remembered."""
    suggested = {s.column: s.field for s in suggestions if s.field is not None}
    return dict(mapping) != suggested
