"""A customer's history (DESIGN.md §8) from the states the imports kept: each write's state
before it and after it, and the fields that changed. Pure: store.customers.history reads
the states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

Attributes = Mapping[str, Any]


@dataclass(frozen=True)
class Write:
    """One import's (or revert's) write of the customer. `before` is the customer's
    attributes just before it (None: it did not exist); `after` its attributes just after,
    when known (`after_known`); otherwise the state the next write found, or the current one."""

    at: datetime
    import_id: str
    kind: str  # "import" | "revert"
    action: str  # the import's duplicate action, or "revert"
    outcome: str  # imported | updated | restored | deleted
    before: Attributes | None
    after: Attributes | None = None
    after_known: bool = False
    revert_of: str | None = None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def field_changes(before: Attributes | None, after: Attributes | None) -> list[dict[str, Any]]:
    """The fields whose value differs, in a stable order: each with its value before and after
    (None where the field was empty or absent)."""
    old, new = before or {}, after or {}
    changes = []
    for name in sorted({*old, *new}):
        was, now = old.get(name), new.get(name)
        if _empty(was) and _empty(now):
            continue
        if was != now:
            changes.append({"field": name, "before": was, "after": now})
    return changes


def entries(writes: Sequence[Write], current: Attributes | None) -> list[dict[str, Any]]:
    """The history, newest first: each write with the fields it changed."""
    ordered = sorted(writes, key=lambda w: w.at)
    settled = []
    for n, write in enumerate(ordered):
        if not write.after_known:
            following = ordered[n + 1].before if n + 1 < len(ordered) else current
            write = replace(write, after=following, after_known=True)
        settled.append(write)
    return [
        {
            "at": write.at,
            "importId": write.import_id,
            "kind": write.kind,
            "action": write.action,
            "outcome": write.outcome,
            "changes": field_changes(write.before, write.after),
            **({"revertOf": write.revert_of} if write.revert_of else {}),
        }
        for write in reversed(settled)
    ]
