"""What a schema change does, and the rules that keep it from losing data (issue 25).

Pure: the store counts and converts the values customers hold with these functions, then
applies the change (store.schema_changes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic.alias_generators import to_camel

from domain.errors import DomainError
from domain.schema import DEFAULT_SCHEMAS, Attribute, RecordSchema

Normalizer = Callable[[str], tuple[Any, str | None]]
# Flags and texts an admin may change on any attribute, with or without data.
_FIELDS = ("label", "type", "required", "multi_value", "channel_identifier", "synonyms")


class ChangeRefused(DomainError):
    """The change would lose or break data customers hold (or drop a default attribute)."""


@dataclass(frozen=True)
class AttributeChange:
    key: str
    before: Attribute
    after: Attribute

    @property
    def fields(self) -> dict[str, tuple[Any, Any]]:
        return {
            name: (getattr(self.before, name), getattr(self.after, name))
            for name in _FIELDS
            if getattr(self.before, name) != getattr(self.after, name)
        }

    @property
    def reshapes_values(self) -> bool:
        """Stored values must be converted (and may not fit the new shape)."""
        return (self.before.type, self.before.multi_value) != (
            self.after.type,
            self.after.multi_value,
        )


@dataclass(frozen=True)
class SchemaDiff:
    added: list[Attribute] = field(default_factory=list)
    removed: list[Attribute] = field(default_factory=list)
    changed: list[AttributeChange] = field(default_factory=list)
    reordered: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.reordered)

    @property
    def new_identifiers(self) -> list[str]:
        """Keys whose values become channel identifiers (their values need claims)."""
        return [
            c.key
            for c in self.changed
            if c.after.channel_identifier and not c.before.channel_identifier
        ]

    @property
    def released_identifiers(self) -> list[str]:
        """Keys whose values stop being channel identifiers (their claims go)."""
        dropped = [a.key for a in self.removed if a.channel_identifier]
        unflagged = [
            c.key
            for c in self.changed
            if c.before.channel_identifier and not c.after.channel_identifier
        ]
        return dropped + unflagged

    def as_json(self) -> dict[str, Any]:
        def attribute(a: Attribute) -> dict[str, Any]:
            return a.model_dump(by_alias=True, mode="json")

        return {
            "added": [attribute(a) for a in self.added],
            "removed": [attribute(a) for a in self.removed],
            "changed": [
                {
                    "key": c.key,
                    "fields": {
                        to_camel(name): {
                            "before": list(before) if isinstance(before, tuple) else before,
                            "after": list(after) if isinstance(after, tuple) else after,
                        }
                        for name, (before, after) in c.fields.items()
                    },
                }
                for c in self.changed
            ],
            "reordered": self.reordered,
        }


def diff(before: RecordSchema | None, after: RecordSchema) -> SchemaDiff:
    """`before` None: the first version (everything added)."""
    old = {a.key: a for a in before.attributes} if before else {}
    new = {a.key: a for a in after.attributes}
    kept_old = [k for k in old if k in new]
    kept_new = [k for k in new if k in old]
    return SchemaDiff(
        added=[a for k, a in new.items() if k not in old],
        removed=[a for k, a in old.items() if k not in new],
        changed=[AttributeChange(k, old[k], new[k]) for k in kept_new if old[k] != new[k]],
        reordered=kept_old != kept_new,
    )


def check_default_keys(after: RecordSchema) -> None:
    """The default attributes of DESIGN.md §2 keep their keys (labels and flags may change)."""
    default = DEFAULT_SCHEMAS.get(after.record_type)
    missing = [k for k in (default.keys if default else []) if after.attribute(k) is None]
    if missing:
        raise ChangeRefused(
            f"Default attributes cannot be removed: {', '.join(missing)} (their labels, "
            "synonyms and flags may change)"
        )


def stored_texts(value: Any) -> list[str]:
    """A stored value (one, or a list for a multi-value attribute) as the texts a file would
    hold for it: numbers and booleans written as an import reads them."""
    values = value if isinstance(value, list) else [value]
    texts = []
    for item in values:
        if item is None:
            continue
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, float) and item.is_integer():
            text = str(int(item))
        else:
            text = str(item).strip()
        if text:
            texts.append(text)
    return texts


def holds_value(value: Any) -> bool:
    return bool(stored_texts(value))


@dataclass(frozen=True)
class Converted:
    value: Any  # the value in the new shape; None when it does not fit
    reason: str | None = None


def convert(value: Any, after: Attribute, normalize: Normalizer) -> Converted:
    """A stored value in the shape of `after` (its type and multi-value flag), or why not:
    converting an already converted value gives it back unchanged."""
    results = [normalize(text) for text in stored_texts(value)]
    reasons = [reason for _, reason in results if reason]
    if reasons:
        return Converted(None, reasons[0])
    values = list(dict.fromkeys(v for v, _ in results))
    if after.multi_value:
        return Converted(values)
    if len(values) > 1:
        return Converted(None, f"{len(values)} values, and {after.key} holds one")
    return Converted(values[0] if values else None)


def shared_values(holders: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Of value → the customers holding it, those held by two or more customers."""
    return {value: ids for value, ids in holders.items() if len(ids) > 1}
