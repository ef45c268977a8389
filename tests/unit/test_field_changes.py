"""What an update changed, field by field: exactly the attributes whose value differs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.resolution import field_changes

KEYS = ["firstName", "city", "email", "labels"]
values = st.one_of(st.none(), st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2))
profiles = st.dictionaries(st.sampled_from([*KEYS, "retired"]), values, max_size=5)


@given(profiles, profiles)
def test_changes_are_exactly_the_differing_fields(before, after) -> None:
    changes = field_changes(before, after, KEYS)
    changed_keys = [key for key, _, _ in changes]
    assert set(changed_keys) == {
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
    }
    assert all(old == before.get(k) and new == after.get(k) for k, old, new in changes)
    in_schema = [k for k in changed_keys if k in KEYS]
    assert in_schema == [k for k in KEYS if k in in_schema]  # the schema's order
    assert bool(changes) == (
        {k: v for k, v in before.items() if v is not None}
        != {k: v for k, v in after.items() if v is not None}
    )


def test_a_field_gained_lost_and_altered() -> None:
    before = {"firstName": "Ann", "city": "Rome", "labels": ["vip"]}
    after = {"firstName": "Ann", "email": ["a@b.co"], "labels": ["vip", "gold"]}
    assert field_changes(before, after, KEYS) == (
        ("city", "Rome", None),
        ("email", None, ["a@b.co"]),
        ("labels", ["vip"], ["vip", "gold"]),
    )
