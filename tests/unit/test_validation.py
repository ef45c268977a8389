"""Row validation and normalisation; the fast paths agree with the libraries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.schema import Attribute, RecordSchema
from domain.validation import (
    RowValidator,
    _email_with_library,
    _phone_with_library,
    _plain_email,
    _plus_number,
    normalize_email,
    normalize_phone,
)

SCHEMA = RecordSchema(
    record_type="customers",
    attributes=(
        Attribute(key="firstName", label="First Name", required=True),
        Attribute(
            key="email", label="Email", type="email", multi_value=True, channel_identifier=True
        ),
        Attribute(
            key="phoneNumber",
            label="Phone",
            type="phone",
            multi_value=True,
            channel_identifier=True,
        ),
        Attribute(key="labels", label="Labels", multi_value=True),
        Attribute(key="age", label="Age", type="number"),
        Attribute(key="vip", label="VIP", type="boolean"),
        Attribute(key="birthday", label="Birthday", type="date"),
    ),
)


def attribute(key: str) -> Attribute:
    found = SCHEMA.attribute(key)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
        ("user@bücher.example", "user@bücher.example"),
        ("invalid@", None),
        ("no-at-sign.example.com", None),
        ("a..b@example.com", None),
        ("a@localhost", None),
        ("a@example.test", None),
        ("a@-example.com", None),
    ],
)
def test_emails(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


_EMAIL_CHARS = st.sampled_from([*"abcXYZ019._+-@", "--", "..", "xn--", ".test", "é"])


@settings(max_examples=1500)
@given(
    st.one_of(
        st.lists(_EMAIL_CHARS, max_size=20).map("".join),
        st.from_regex(
            r"[A-Za-z0-9._+-]{1,12}@[a-z0-9-]{1,10}(\.[a-z0-9-]{1,8}){1,3}", fullmatch=True
        ),
    )
)
def test_the_plain_email_fast_path_agrees_with_email_validator(text: str) -> None:
    fast = _plain_email(text)
    if fast is not None:
        assert fast == _email_with_library(text)


@pytest.mark.parametrize(
    ("raw", "region", "policy", "expected"),
    [
        ("+1 202-555-0143", None, "strict", "+12025550143"),
        ("+1 (202) 555-0143", None, "strict", "+12025550143"),
        ("(202) 555-0143", "US", "strict", "+12025550143"),
        ("2025550143", None, "strict", None),  # no + and no region
        ("020 7946 0958", "GB", "strict", "+442079460958"),
        ("+44 (0)20 7946 0958", None, "strict", "+442079460958"),
        ("+39 06 6982 0000", None, "strict", "+390669820000"),  # Italian leading zero
        ("555-12", "US", "strict", None),
        ("+1 202 555 014", None, "strict", None),
        ("+1 999 555 0143", None, "strict", None),
        ("+1 999 555 0143", None, "possible", "+19995550143"),
        ("+1 212 555 0100 ext. 12", None, "strict", "+12125550100;ext=12"),
        ("(212) 555-0100 x12", "US", "strict", "+12125550100;ext=12"),
        ("+12125550100;ext=12", None, "strict", "+12125550100;ext=12"),
    ],
)
def test_phones(raw: str, region: str | None, policy: str, expected: str | None) -> None:
    assert normalize_phone(raw, region, policy) == expected  # type: ignore[arg-type]


_COUNTRY = st.sampled_from(
    ["1", "44", "49", "33", "39", "7", "86", "91", "61", "55", "353", "852", "800", "999"]
)
_PHONE = st.builds(
    lambda cc, digits, sep: "+" + cc + sep + digits,
    _COUNTRY,
    st.text("0123456789", min_size=0, max_size=14),
    st.sampled_from(["", " ", "-", "."]),
)


@settings(max_examples=3000)
@given(_PHONE, st.sampled_from(["strict", "possible"]))
def test_the_plus_number_fast_path_agrees_with_phonenumbers(text: str, policy: str) -> None:
    decided, e164 = _plus_number(text, policy)  # type: ignore[arg-type]
    if decided:
        assert e164 == _phone_with_library(text, None, policy)  # type: ignore[arg-type]


def test_the_fast_path_takes_the_common_shapes() -> None:
    assert _plus_number("+1 202-555-0143", "strict") == (True, "+12025550143")
    assert _plus_number("+44 20 7946 0958", "strict") == (True, "+442079460958")
    assert _plus_number("+1 202 555 0143 ext. 12", "strict") == (False, None)


def test_reasons_are_worded_for_a_support_agent() -> None:
    us = RowValidator(SCHEMA, phone_region="US")
    assert us.normalize_value(attribute("email"), "invalid@") == (
        None,
        "Invalid email format: 'invalid@'",
    )
    assert us.normalize_value(attribute("phoneNumber"), "555-12") == (
        None,
        "Invalid phone number for region US: '555-12'",
    )
    plain = RowValidator(SCHEMA)
    _, reason = plain.normalize_value(attribute("phoneNumber"), "2025550143")
    assert reason is not None and "no default region" in reason


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("age", "42", 42),
        ("age", "9223372036854775807", 2**63 - 1),
        ("age", "-9223372036854775808", -(2**63)),
        ("age", "9,223,372,036,854,775,807", 2**63 - 1),
        ("age", "000000000000000000000042", 42),
        ("age", "-3.5", -3.5),
        ("age", "1,234.5", 1234.5),
        ("vip", "Yes", True),
        ("vip", "0", False),
        ("birthday", "1990-02-28", "1990-02-28"),
    ],
)
def test_typed_values(key: str, raw: str, expected: object) -> None:
    assert RowValidator(SCHEMA).normalize_value(attribute(key), raw) == (expected, None)


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("age", "1,5", "Invalid number for age: '1,5'"),
        ("age", "nan", "Invalid number for age: 'nan'"),
        ("age", "1e999", "Invalid number for age: '1e999' (too large)"),
        # Whole numbers are stored as 64-bit integers (a bigger one could not be written).
        *(
            ("age", big, f"Invalid number for age: '{big}' (too large)")
            for big in ("9223372036854775808", "-9223372036854775809", "9" * 5000)
        ),
        ("vip", "maybe", "Invalid boolean for vip: 'maybe' (use true or false)"),
        ("birthday", "1990-02-30", "Invalid date for birthday: '1990-02-30' (use YYYY-MM-DD)"),
        ("birthday", "02/28/1990", "Invalid date for birthday: '02/28/1990' (use YYYY-MM-DD)"),
    ],
)
def test_typed_value_reasons(key: str, raw: str, reason: str) -> None:
    assert RowValidator(SCHEMA).normalize_value(attribute(key), raw) == (None, reason)


def test_a_row_collects_every_reason_and_only_provided_values() -> None:
    validator = RowValidator(SCHEMA)
    header = ["First", "Email 1", "Email 2", "Phone", "Tags", "Age"]
    mapping = {
        "First": "firstName",
        "Email 1": "email",
        "Email 2": "email",
        "Phone": "phoneNumber",
        "Tags": "labels",
        "Age": "age",
    }
    row = validator.validate_csv_row(
        header, ["  ", "bad@", "ok@example.com", "+1 202 555 0143", "", "x"], mapping
    )
    assert row.errors == [
        "Missing mandatory field: firstName",
        "Invalid email format: 'bad@'",
        "Invalid number for age: 'x'",
    ]
    assert row.values == {"email": ["ok@example.com"], "phoneNumber": ["+12025550143"]}


def test_multi_values_are_split_and_repeats_collapsed() -> None:
    validator = RowValidator(SCHEMA, separator=";")
    row = validator.validate_cells(
        {
            "firstName": ["Ann|Marie"],  # a single-value field is not split
            "email": ["A@x.com; a@X.com ;", "b@x.com"],
            "labels": ["vip;vip; new"],
        }
    )
    assert row.errors == []
    assert row.values == {
        "firstName": "Ann|Marie",
        "email": ["a@x.com", "b@x.com"],
        "labels": ["vip", "new"],
    }


def test_a_required_attribute_without_a_column_fails_every_row() -> None:
    plan = RowValidator(SCHEMA).plan(["Email"], {"Email": "email"})
    assert plan.validate(["a@example.com"]).errors == ["Missing mandatory field: firstName"]


def test_the_row_plan_follows_a_new_header_and_mapping() -> None:
    validator = RowValidator(SCHEMA)
    first = validator.validate_csv_row(["A"], ["Ann"], {"A": "firstName"})
    second = validator.validate_csv_row(["B", "A"], ["Bob", "x"], {"B": "firstName"})
    assert (first.values, second.values) == ({"firstName": "Ann"}, {"firstName": "Bob"})
