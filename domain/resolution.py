"""Resolving a batch of validated rows against existing customers, row by row in file order.

Pure: the caller looks up the existing customers that own any identifier value of the batch,
and gets back each row's outcome and one final write per touched customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.actions import Action, apply_action
from domain.schema import RecordSchema
from domain.validation import Profile


class Outcome(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    IGNORED = "ignored"
    FAILED = "failed"


IGNORED_REASON = "Ignored - duplicate found"


@dataclass(frozen=True)
class RowInput:
    number: int  # the row's data row number in its file (or index in a bulk request)
    values: Profile  # provided, normalised values
    errors: Sequence[str] = ()


@dataclass
class CustomerState:
    id: str
    attributes: Profile
    rev: int | None  # None: inserted by this batch
    changed: bool = False


FieldChange = tuple[str, Any, Any]  # (attribute key, value before, value after); None: absent


@dataclass(frozen=True)
class RowResult:
    number: int
    outcome: Outcome
    reason: str | None = None
    customer_id: str | None = None
    changes: tuple[FieldChange, ...] = ()  # what an update altered, in schema order

    @property
    def changed(self) -> bool:
        """An update that altered the stored profile (else it is counted "unchanged")."""
        return bool(self.changes)


def field_changes(before: Profile, after: Profile, keys: Sequence[str]) -> tuple[FieldChange, ...]:
    """The attributes whose value differs: in the order of `keys` (the schema's), then any
    others (of attributes the schema no longer has) by name."""
    others = sorted((before.keys() | after.keys()) - set(keys))
    return tuple(
        (key, before.get(key), after.get(key))
        for key in [*keys, *others]
        if before.get(key) != after.get(key)
    )


@dataclass
class BatchResolution:
    results: list[RowResult] = field(default_factory=list)
    customers: dict[str, CustomerState] = field(default_factory=dict)

    @property
    def inserts(self) -> list[CustomerState]:
        return [c for c in self.customers.values() if c.rev is None]

    @property
    def updates(self) -> list[CustomerState]:
        return [c for c in self.customers.values() if c.rev is not None and c.changed]


IdentifierValue = tuple[str, Any]  # (attribute key, normalised value)


@dataclass(frozen=True)
class ProfileBounds:
    """What one customer may hold (MAX_VALUES_PER_FIELD, MAX_CUSTOMER_BYTES): a row that
    would take its customer past either fails with the reason, and nothing of it is written
    (a document past MongoDB's 16 MB would fail the whole batch or request)."""

    values_per_field: int = 100
    customer_bytes: int = 1024 * 1024

    def problem(self, profile: Profile, labels: Mapping[str, str]) -> str | None:
        for key, value in profile.items():
            if isinstance(value, list) and len(value) > self.values_per_field:
                return (
                    f"{labels.get(key, key)} would hold {len(value)} values; a customer holds "
                    f"at most {self.values_per_field} per field"
                )
        if profile_bytes(profile, chars=True) * 4 <= self.customer_bytes:
            return None  # even at 4 bytes a character (no encoding needed for most rows)
        size = profile_bytes(profile)
        if size > self.customer_bytes:
            return (
                f"The customer would hold {size:,} bytes of values; a customer holds at most "
                f"{self.customer_bytes:,}"
            )
        return None


def profile_bytes(profile: Profile, *, chars: bool = False) -> int:
    """About the room a profile's values take in its document: keys and values as UTF-8,
    and a few bytes of framing each. With `chars`, characters instead of bytes of the values
    (UTF-8 takes at most 4 bytes a character)."""
    total = 0
    for key, value in profile.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = str(item)
            total += 8 + (len(text) if chars else len(text.encode("utf-8", "surrogatepass")))
        total += len(key)
    return total


def identifier_values(profile: Profile, identifier_keys: Iterable[str]) -> set[IdentifierValue]:
    # Runs for every row of every file: the same as iterating `as_list`, without the copies.
    found: set[IdentifierValue] = set()
    for key in identifier_keys:
        value = profile.get(key)
        if isinstance(value, list):
            for item in value:  # a loop: a generator per row costs more for lists of one
                found.add((key, item))
        elif value is not None and value != "":
            found.add((key, value))
    return found


def resolve_batch(
    rows: Sequence[RowInput],
    existing: Iterable[CustomerState],
    *,
    action: Action,
    deduplication_keys: Sequence[str],
    schema: RecordSchema,
    new_id: Callable[[int], str],
    bounds: ProfileBounds = ProfileBounds(),
) -> BatchResolution:
    """Apply DESIGN.md §3 to `rows` in order; `existing` must hold every customer that owns
    any channel-identifier value of any row. `new_id(row number)` names a row's new customer.
    A row that would take its customer past `bounds` fails."""
    identifier_keys = [a.key for a in schema.channel_identifiers]
    labels = {a.key: a.label for a in schema.attributes}
    attribute_keys = schema.keys
    resolution = BatchResolution()
    owners: dict[IdentifierValue, str] = {}
    for customer in existing:
        resolution.customers[customer.id] = customer
        for ident in identifier_values(customer.attributes, identifier_keys):
            owners[ident] = customer.id

    def taken_by_other(profile: Profile, customer_id: str | None) -> str | None:
        held = [
            (ident, owner)
            for ident in identifier_values(profile, identifier_keys)
            if (owner := owners.get(ident)) is not None and owner != customer_id
        ]
        if not held:
            return None
        # The first in a fixed order: the same value is named however the set iterates.
        (key, value), owner = min(held, key=lambda item: str(item[0]))
        # Named, so a person can look that customer up (GET /customers/{id}).
        return f"{labels.get(key, key)} '{value}' already belongs to another customer (id {owner})"

    for row in rows:
        if row.errors:
            resolution.results.append(RowResult(row.number, Outcome.FAILED, "; ".join(row.errors)))
            continue
        matches = sorted(
            {
                owners[ident]
                for ident in identifier_values(row.values, deduplication_keys)
                if ident in owners
            }
        )
        if len(matches) > 1:
            keys = ", ".join(labels.get(k, k) for k in deduplication_keys)
            resolution.results.append(
                RowResult(
                    row.number,
                    Outcome.FAILED,
                    f"Matches {len(matches)} different existing customers by {keys}",
                )
            )
            continue
        if not matches:
            conflict = taken_by_other(row.values, None) or bounds.problem(row.values, labels)
            if conflict:
                resolution.results.append(RowResult(row.number, Outcome.FAILED, conflict))
                continue
            customer = CustomerState(new_id(row.number), dict(row.values), rev=None, changed=True)
            resolution.customers[customer.id] = customer
            for ident in identifier_values(customer.attributes, identifier_keys):
                owners[ident] = customer.id
            resolution.results.append(
                RowResult(row.number, Outcome.IMPORTED, customer_id=customer.id)
            )
            continue
        customer = resolution.customers[matches[0]]
        if action is Action.IGNORE:
            resolution.results.append(
                RowResult(row.number, Outcome.IGNORED, IGNORED_REASON, customer.id)
            )
            continue
        after = apply_action(action, customer.attributes, row.values, schema)
        conflict = taken_by_other(after, customer.id) or bounds.problem(after, labels)
        if conflict:
            resolution.results.append(RowResult(row.number, Outcome.FAILED, conflict))
            continue
        changes = field_changes(customer.attributes, after, attribute_keys)
        if changes:
            for ident in identifier_values(customer.attributes, identifier_keys):
                owners.pop(ident, None)
            for ident in identifier_values(after, identifier_keys):
                owners[ident] = customer.id
            customer.attributes = after
            customer.changed = True
        resolution.results.append(
            RowResult(row.number, Outcome.UPDATED, customer_id=customer.id, changes=changes)
        )
    return resolution
