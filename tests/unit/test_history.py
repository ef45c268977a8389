"""domain.history: the fields a write changed, and the order of a customer's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.history import Write, entries, field_changes

T0 = datetime(2026, 12, 1, tzinfo=UTC)
values = st.one_of(st.none(), st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2))
profiles = st.dictionaries(st.sampled_from(["city", "email", "labels"]), values, max_size=3)


def test_empty_and_absent_are_no_change_and_a_removed_field_is_one() -> None:
    before = {"city": "Boston", "labels": [], "lastName": ""}
    after = {"city": "Denver", "email": None}
    city = {"field": "city", "before": "Boston", "after": "Denver"}
    assert field_changes(before, after) == [city]
    assert field_changes({"a": 1}, None) == [{"field": "a", "before": 1, "after": None}]


@given(profiles, profiles)
def test_a_field_changes_exactly_when_its_value_differs(before, after) -> None:
    changed = {c["field"] for c in field_changes(before, after)}
    for name in {*before, *after}:
        was, now = before.get(name), after.get(name)
        both_empty = was in (None, "", []) and now in (None, "", [])
        assert (name in changed) == (was != now and not both_empty)


def test_a_write_s_after_is_the_next_write_s_before_or_the_current_state() -> None:
    inserted = Write(T0, "a", "import", "ignore", "imported", None)
    updated = Write(T0 + timedelta(1), "b", "import", "update", "updated", {"city": "X"})
    history = entries([updated, inserted], {"city": "Y"})
    assert [e["importId"] for e in history] == ["b", "a"]
    assert history[0]["changes"] == [{"field": "city", "before": "X", "after": "Y"}]
    assert history[1]["changes"] == [{"field": "city", "before": None, "after": "X"}]
