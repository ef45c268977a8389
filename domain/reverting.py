"""What a revert does with each customer an import wrote, decided from the customer as it is
now. Pure: store.customers.restore reads the customers and applies the verdicts.

A customer is taken back only while it is exactly as the import left it: its last writer
(`written_by`) is the import and its `rev` is the one the import's write gave it. Anything
else changed it since, and then it is kept as it is and reported as a conflict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Document = dict[str, Any]


class Verdict(StrEnum):
    RESTORE = "restore"  # back to its pre-image
    DELETE = "delete"  # inserted by the import
    RESTORED = "restored"  # is its pre-image already (an earlier run of the revert)
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str | None = None


def _as_the_import_left_it(current: Document, import_id: str, written_rev: int) -> bool:
    return current.get("written_by") == import_id and current.get("rev") == written_rev


def changed_since(current: Document) -> str:
    by = current.get("written_by")
    if not by:
        who = "outside the imports"
    elif str(by).endswith("-bulk"):
        who = "by a bulk request"
    else:
        who = f"by import {by}"
    return f"Changed after the import ({who}); kept as it is"


def judge_changed(
    current: Document | None, before: Document, written_rev: int, import_id: str
) -> Judgement:
    """A customer the import updated, whose state before the import is `before`."""
    if current is None:
        return Judgement(Verdict.CONFLICT, "Deleted after the import")
    if current == before:
        return Judgement(Verdict.RESTORED)
    if _as_the_import_left_it(current, import_id, written_rev):
        return Judgement(Verdict.RESTORE)
    return Judgement(Verdict.CONFLICT, changed_since(current))


def judge_inserted(current: Document, written_rev: int, import_id: str) -> Judgement:
    """A customer the import inserted (its last write gave it `written_rev`)."""
    if _as_the_import_left_it(current, import_id, written_rev):
        return Judgement(Verdict.DELETE)
    return Judgement(Verdict.CONFLICT, changed_since(current))


def value_taken(key: str, value: Any, holder: str | None) -> str:
    """The reason a customer cannot get back an identifier value the import took from it."""
    whose = f"customer {holder}" if holder else "another writer"
    return f"Its {key} {value} now belongs to {whose}; kept as it is"
