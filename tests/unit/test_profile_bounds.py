"""What one customer may hold (MAX_VALUES_PER_FIELD, MAX_CUSTOMER_BYTES): a row that would
take its customer past a bound fails with the reason, whether it inserts or changes the
customer, and the customer stays as it was."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.actions import Action
from domain.resolution import (
    CustomerState,
    Outcome,
    ProfileBounds,
    RowInput,
    profile_bytes,
    resolve_batch,
)
from domain.schema import DEFAULT_CUSTOMER_SCHEMA


def _labels(count: int, start: int = 0) -> list[str]:
    return [f"label-{n}" for n in range(start, start + count)]


@given(existing=st.integers(0, 12), added=st.integers(0, 12), bound=st.integers(1, 15))
def test_an_append_past_the_values_per_field_fails_and_changes_nothing(
    existing: int, added: int, bound: int
) -> None:
    before = {"firstName": "Ann", "email": ["ann@example.com"], "labels": _labels(existing)}
    row = {"email": ["ann@example.com"], "labels": _labels(added, start=existing)}
    customer = CustomerState("c1", dict(before), rev=1)
    resolution = resolve_batch(
        [RowInput(1, row)],
        [customer],
        action=Action.APPEND,
        deduplication_keys=["email"],
        schema=DEFAULT_CUSTOMER_SCHEMA,
        new_id=lambda n: f"new-{n}",
        bounds=ProfileBounds(values_per_field=bound),
    )
    (result,) = resolution.results
    if existing + added > bound:
        assert result.outcome is Outcome.FAILED
        assert result.reason == (
            f"Labels would hold {existing + added} values; a customer holds at most {bound} "
            "per field"
        )
        assert resolution.customers["c1"].attributes == before
    else:
        assert result.outcome is Outcome.UPDATED


@given(size=st.integers(0, 3_000))
def test_a_new_customer_past_the_size_bound_fails(size: int) -> None:
    row = {"firstName": "Ann", "email": ["ann@example.com"], "city": "x" * size}
    resolution = resolve_batch(
        [RowInput(1, row)],
        [],
        action=Action.IGNORE,
        deduplication_keys=["email"],
        schema=DEFAULT_CUSTOMER_SCHEMA,
        new_id=lambda n: f"new-{n}",
        bounds=ProfileBounds(customer_bytes=2_000),
    )
    (result,) = resolution.results
    if profile_bytes(row) > 2_000:
        assert result.outcome is Outcome.FAILED
        assert result.reason is not None and result.reason.startswith("The customer would hold")
        assert not resolution.inserts
    else:
        assert result.outcome is Outcome.IMPORTED
