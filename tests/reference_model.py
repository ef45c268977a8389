"""DESIGN.md §3 read literally, one row at a time: the reference that both the pure
resolution (tests/unit) and whole imports through the workers (tests/integration) must equal,
with the hypothesis strategies that feed them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from domain.validation import RowValidator

EMAILS = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
PHONES = ["+12025550143", "+14155550132", "+13125550199", "+16175550123"]
COLUMNS = ["firstName", "email", "phoneNumber", "city", "labels"]
MULTI = {"email", "phoneNumber", "labels"}
IDENTIFIERS = ("email", "phoneNumber")

# --- the reference: DESIGN.md §3 read literally, one row at a time --------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _holder_of_other(
    customers: list[dict[str, Any]], profile: dict[str, Any], me: dict[str, Any] | None
) -> bool:
    return any(
        other is not me and value in other.get(key, [])
        for other in customers
        for key in IDENTIFIERS
        for value in profile.get(key, [])
    )


def reference(
    existing: list[dict[str, Any]], rows: list[dict[str, Any] | None], action: str, keys: list[str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    customers = [dict(c) for c in existing]
    counts = {"imported": 0, "updated": 0, "ignored": 0, "failed": 0}
    for row in rows:
        if row is None:  # invalid row
            counts["failed"] += 1
            continue
        matches = [
            c for c in customers if any(v in c.get(k, []) for k in keys for v in row.get(k, []))
        ]
        if len(matches) > 1:
            counts["failed"] += 1
        elif not matches:
            if _holder_of_other(customers, row, None):
                counts["failed"] += 1
            else:
                customers.append(dict(row))
                counts["imported"] += 1
        elif action == "ignore":
            counts["ignored"] += 1
        else:
            old = matches[0]
            if action == "replace":
                new = dict(row)
            elif action == "update":
                new = dict(old)
                new.update({k: v for k, v in row.items() if _empty(old.get(k))})
            else:
                new = dict(old)
                for k, v in row.items():
                    new[k] = (
                        old.get(k, []) + [x for x in v if x not in old.get(k, [])]
                        if k in MULTI
                        else v
                    )
            if _holder_of_other(customers, new, old):
                counts["failed"] += 1
            else:
                old.clear()
                old.update(new)
                counts["updated"] += 1
    return customers, counts


# --- generated data ------------------------------------------------------------------------

cell_email = st.one_of(
    st.just(""),
    st.sampled_from(EMAILS),
    st.sampled_from(EMAILS).map(lambda e: f"  {e.upper()} "),
    st.lists(st.sampled_from(EMAILS), min_size=2, max_size=2).map("|".join),
    st.just("not-an-email@"),
)
cell_phone = st.one_of(st.just(""), st.sampled_from(PHONES), st.just("555-12"))
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "firstName": st.sampled_from(["Ann", "Bob", ""]),
            "email": cell_email,
            "phoneNumber": cell_phone,
            "city": st.sampled_from(["", "Paris", "Rome"]),
            "labels": st.sampled_from(["", "vip", "vip|new", "new"]),
        }
    ),
    min_size=1,
    max_size=14,
)


@st.composite
def existing_strategy(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to three customers that share no identifier value (the database's invariant)."""
    customers: list[dict[str, Any]] = []
    taken: set[str] = set()
    for _ in range(draw(st.integers(0, 3))):
        customer: dict[str, Any] = {"firstName": draw(st.sampled_from(["Old", "Older"]))}
        for key, pool in (("email", EMAILS), ("phoneNumber", PHONES)):
            values = [
                v
                for v in draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
                if v not in taken
            ]
            taken.update(values)
            if values:
                customer[key] = values
        if draw(st.booleans()):
            customer["city"] = "Oslo"
        customers.append(customer)
    return customers


VALIDATOR = RowValidator(DEFAULT_CUSTOMER_SCHEMA)


def validated(row: dict[str, str]) -> dict[str, Any] | None:
    result = VALIDATOR.validate_cells({k: [v] for k, v in row.items()})
    return None if result.errors else result.values


def canonical(customers: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(c, sort_keys=True) for c in customers)
