"""Auto-mapping of headers to the schema, on real export layouts and single rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.csvfile import CsvReader
from domain.errors import InvalidRequest
from domain.mapping import (
    CONFIDENCE_BAR,
    missing_required,
    resolve_mapping,
    suggest_mapping,
)
from domain.schema import DEFAULT_CUSTOMER_SCHEMA as SCHEMA

EXPORTS = Path(__file__).parent / "exports"
EXPECTED = json.loads((EXPORTS / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_export_layouts_map_as_a_user_expects(name: str) -> None:
    expected = EXPECTED[name]
    with (EXPORTS / name).open("rb") as stream:
        reader = CsvReader(stream)
        sample = [row.values for row in reader][:5]
    assert (reader.encoding, reader.delimiter) == (expected["encoding"], expected["delimiter"])
    suggestions = suggest_mapping(reader.header, sample, SCHEMA)
    assert {s.column: s.field for s in suggestions if s.field} == expected["mapping"]
    assert all(s.confidence >= CONFIDENCE_BAR for s in suggestions if s.field)
    assert missing_required(resolve_mapping(reader.header, suggestions, None, SCHEMA), SCHEMA) == []


def field_of(
    header: list[str], rows: list[list[str]] | None = None
) -> list[tuple[str | None, str]]:
    return [(s.field, s.method) for s in suggest_mapping(header, rows or [], SCHEMA)]


def test_methods_in_order_of_trust() -> None:
    assert field_of(["email", "LAST_NAME", "Handy", "E-mail 2 - Value", "Frist Name"]) == [
        ("email", "exact"),
        ("lastName", "normalized"),
        ("phoneNumber", "synonym"),
        ("email", "synonym"),
        ("firstName", "fuzzy"),
    ]


def test_accents_and_separators_are_ignored() -> None:
    assert field_of(["Prénom", "téléphone", "last-name"]) == [
        ("firstName", "synonym"),
        ("phoneNumber", "synonym"),
        ("lastName", "normalized"),
    ]


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("Facebook ID", "facebook"),
        ("Telegram Handle", "telegram"),
        ("WhatsApp Number", "whatsapp"),
        ("LinkedIn URL", "linkedin"),
        ("Instagram Profile", "instagram"),
        ("Viber Number", "viber"),
    ],
)
def test_an_identifier_name_with_id_handle_number_url_or_profile_names_it(
    column: str, field: str
) -> None:
    assert field_of(["First Name", column])[1] == (field, "synonym")


@pytest.mark.parametrize(
    "column",
    [
        "City ID",
        "Customer ID",
        "Middle Name",
        "Phone 1 - Label",
        "E-mail 1 - Type",
        "Record ID",
        "Email Opt Out",
        "Do Not Email",
        "Business Fax",
        "Assistant's Phone",
        "Name",
        "Address",
        "Organization Name",
    ],
)
def test_columns_that_describe_something_else_stay_unmapped(column: str) -> None:
    assert field_of(["First Name", column])[1] == (None, "none")


def test_content_sniffing_maps_columns_with_uninformative_headers() -> None:
    rows = [
        ["a@example.com", "+1 202 555 0143", "Work", "123456", "https://youtube.com/@a"],
        ["b@example.com", "+44 20 7946 0958", "Home", "123457", "https://youtu.be/x"],
        ["c@example.com", "(202) 555-0199", "Work", "123458", "youtube.com/c"],
    ]
    header = ["Contact", "Column 2", "Kind of thing", "Ref", "Channel"]
    assert field_of(header, rows) == [
        ("email", "content"),
        ("phoneNumber", "content"),
        (None, "none"),
        (None, "none"),
        ("youtube", "content"),
    ]


def test_a_column_of_labels_under_an_email_header_is_not_an_email_column() -> None:
    rows = [["Work"], ["Home"], ["Other"]]
    assert field_of(["E-mail Addresses"], rows) == [(None, "none")]


def test_one_sample_value_is_not_enough_to_map_by_content() -> None:
    [suggestion] = suggest_mapping(["Contact"], [["a@example.com"]], SCHEMA)
    assert (suggestion.field, suggestion.method) == (None, "content")
    assert 0 < suggestion.confidence < CONFIDENCE_BAR  # flagged for the user


def test_a_vetoed_header_with_email_values_is_flagged_not_mapped() -> None:
    rows = [["rep@corp.example"], ["rep@corp.example"], ["boss@corp.example"]]
    [suggestion] = suggest_mapping(["Owner Email"], rows, SCHEMA)
    assert suggestion.field is None
    assert suggestion.method == "content" and suggestion.confidence < CONFIDENCE_BAR


def test_a_single_value_field_takes_one_column_and_multi_value_fields_many() -> None:
    header = ["Home City", "City", "Phone 1", "Phone 2", "email", "Work Email"]
    assert field_of(header) == [
        (None, "none"),
        ("city", "normalized"),
        ("phoneNumber", "synonym"),
        ("phoneNumber", "synonym"),
        ("email", "exact"),
        ("email", "synonym"),
    ]


@given(st.lists(st.text(max_size=20), max_size=12, unique=True))
def test_any_header_gets_one_suggestion_per_column_and_single_fields_once(
    header: list[str],
) -> None:
    suggestions = suggest_mapping(header, [], SCHEMA)
    assert [s.column for s in suggestions] == header
    single = [s.field for s in suggestions if s.field and not SCHEMA.attribute(s.field).multi_value]  # type: ignore[union-attr]
    assert len(single) == len(set(single))
    assert all((s.field is None) == (s.confidence < CONFIDENCE_BAR) for s in suggestions)


def test_overrides_take_a_single_value_field_from_a_suggestion() -> None:
    header = ["First Name", "Given Name", "Mobile", "Company"]
    suggestions = suggest_mapping(header, [], SCHEMA)
    mapping = resolve_mapping(
        header, suggestions, {"Given Name": "firstName", "Mobile": None}, SCHEMA
    )
    assert mapping == {"Given Name": "firstName"}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"Nope": "email"}, "not in the file: Nope"),
        ({"A": "shoeSize"}, "unknown attributes: shoeSize"),
        ({"A": "firstName", "B": "firstName"}, "both map to 'firstName'"),
    ],
)
def test_invalid_overrides_are_refused(overrides: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        resolve_mapping(["A", "B"], [], overrides, SCHEMA)


def test_missing_required() -> None:
    assert missing_required({"E": "email"}, SCHEMA) == ["firstName"]
    assert missing_required({"F": "firstName"}, SCHEMA) == []
