"""The pure rules of a schema change (the diff, the default keys, converting stored values)
and the attribute proposed for an unmapped column."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attribute_proposal import guess_type, propose_key
from domain.schema import DEFAULT_CUSTOMER_SCHEMA, Attribute, RecordSchema
from domain.schema_changes import ChangeRefused, check_default_keys, convert, diff
from domain.validation import RowValidator


def _schema(*extra: Attribute, drop: str | None = None) -> RecordSchema:
    kept = [a for a in DEFAULT_CUSTOMER_SCHEMA.attributes if a.key != drop]
    return RecordSchema(record_type="customers", attributes=(*kept, *extra))


def _normalize(attribute: Attribute) -> Any:
    return RowValidator(_schema(attribute)).normalizer(attribute)


def test_diff_names_added_removed_and_each_changed_field() -> None:
    points = Attribute(key="points", label="Points", type="number")
    before = _schema(points)
    city = before.attribute("city")
    assert city is not None
    relabelled = city.model_copy(update={"label": "Town", "synonyms": ("borough",)})
    kept = [relabelled if a.key == "city" else a for a in before.attributes[:-1]]
    company = Attribute(key="company", label="Company")
    after = RecordSchema(record_type="customers", attributes=(*kept, company))
    change = diff(before, after).as_json()
    assert [a["key"] for a in change["added"]] == ["company"]
    assert [a["key"] for a in change["removed"]] == ["points"]
    assert change["changed"] == [
        {
            "key": "city",
            "fields": {
                "label": {"before": "City", "after": "Town"},
                "synonyms": {"before": list(city.synonyms), "after": ["borough"]},
            },
        }
    ]
    assert not change["reordered"]
    assert diff(before, before).empty
    reordered = RecordSchema(record_type="customers", attributes=before.attributes[::-1])
    assert diff(before, reordered).reordered


def test_default_keys_stay() -> None:
    with pytest.raises(ChangeRefused, match="lastName"):
        check_default_keys(_schema(drop="lastName"))
    check_default_keys(_schema(Attribute(key="company", label="Company")))


def test_values_take_the_new_type_and_shape() -> None:
    text = Attribute(key="points", label="Points")
    number = Attribute(key="points", label="Points", type="number")
    many = Attribute(key="points", label="Points", type="number", multi_value=True)
    assert convert(42, text, _normalize(text)).value == "42"
    assert convert(7.5, text, _normalize(text)).value == "7.5"
    assert convert(True, text, _normalize(text)).value == "true"
    assert convert("42", number, _normalize(number)).value == 42
    assert convert("4x", number, _normalize(number)).reason == "Invalid number for points: '4x'"
    assert convert("42", many, _normalize(many)).value == [42]
    assert convert([1, 2], number, _normalize(number)).reason == "2 values, and points holds one"
    assert convert([3], number, _normalize(number)).value == 3


values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.booleans(),
    st.text(min_size=1, max_size=12),
    st.lists(st.text(min_size=1, max_size=6), max_size=3),
)
shapes = st.sampled_from(
    [
        Attribute(key="score", label="Score", type=kind, multi_value=multi)
        for kind in ("string", "number", "boolean", "date", "email")
        for multi in (False, True)
    ]
)


@given(values, shapes)
def test_converting_a_converted_value_gives_it_back(value: Any, attribute: Attribute) -> None:
    normalize = _normalize(attribute)
    once = convert(value, attribute, normalize)
    if once.reason is None:
        assert convert(once.value, attribute, normalize) == once


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("company", "company"),
        ("Company name", "companyName"),
        ("Société", "societe"),
        ("loyaltyPoints", "loyaltyPoints"),
        ("2nd phone", "field2ndPhone"),
        ("email", "email2"),
        ("id", "id2"),
        ("!!!", "field"),
    ],
)
def test_a_proposed_key_is_camel_case_and_unique(header: str, key: str) -> None:
    assert propose_key(header, DEFAULT_CUSTOMER_SCHEMA.keys) == key


@pytest.mark.parametrize(
    ("samples", "kind"),
    [
        (["a@example.com", "B@Example.org"], "email"),
        (["+12025550143", ""], "phone"),
        (["2024-01-31"], "date"),
        (["1", "0", "42.5"], "number"),
        (["yes", "no"], "boolean"),
        (["Acme", "42"], "string"),
        (["", " "], "string"),
    ],
)
def test_a_guessed_type_fits_every_sample(samples: list[str], kind: str) -> None:
    assert guess_type(samples, DEFAULT_CUSTOMER_SCHEMA) == kind
