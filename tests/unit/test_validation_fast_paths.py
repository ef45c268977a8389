"""The fast paths of validation give exactly what the slow reference gives, on generated
inputs: emails and phones with odd characters, whitespace, Unicode and case against
email-validator and phonenumbers called directly; whole rows of a row plan against the plain
per-attribute collection (split, trim, normalise, collapse repeats) it replaced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import email_validator
import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType

from domain.schema import Attribute, RecordSchema
from domain.validation import (
    PhonePolicy,
    RowValidator,
    ValidatedRow,
    Value,
    normalize_email,
    normalize_phone,
)

# --- references: the libraries, called the plain way -----------------------------------------


def reference_email(raw: str) -> str | None:
    try:
        result = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return result.normalized.lower()


def reference_phone(raw: str, region: str | None, policy: PhonePolicy) -> str | None:
    text = raw.strip()
    if not text.startswith("+") and region is None:
        return None  # DESIGN.md §2: no "+" and no default region is invalid
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    ok = (
        phonenumbers.is_valid_number(number)
        if policy == "strict"
        else phonenumbers.is_possible_number(number)
    )
    if not ok:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


# --- emails -----------------------------------------------------------------------------------

_SPACE = st.sampled_from(["", "", " ", "  ", "\t", "\u00a0", "\u2003", "\n"])
_LOCAL_CHARS = st.sampled_from(
    [*"abcxyzABCXYZ0129._+-", "..", "é", "ß", "K", "ı", "İ", '"', "!", "#", "'", "~", " ", "@"]
)
_LABEL_CHARS = st.sampled_from([*"abcxyzABCXYZ019-", "--", "xn--", "é", "ü", "_", "K", "ｅ"])
_TLDS = st.sampled_from(
    [
        *("com", "org", "COM", "Co", "uk", "io", "x", "a1", "123", "xn--p1ai", "рф", "é"),
        *("test", "local", "localhost", "invalid", "onion", "arpa", "TEST", "Local"),  # special use
    ]
)


@st.composite
def email_texts(draw: st.DrawFn) -> str:
    local = draw(st.lists(_LOCAL_CHARS, min_size=0, max_size=12).map("".join))
    if draw(st.integers(0, 9)) == 0:  # near and over the 64-character local part
        local = "a" * draw(st.integers(60, 70)) + local
    labels = draw(st.lists(st.lists(_LABEL_CHARS, max_size=8).map("".join), min_size=0, max_size=4))
    if draw(st.integers(0, 9)) == 0:  # near and over the 63-character label, 254-character address
        labels += ["b" * draw(st.integers(60, 64))] * draw(st.integers(1, 4))
    domain = ".".join([*labels, draw(_TLDS)])
    at = draw(st.sampled_from(["@", "@", "@", "＠", "@@"]))
    return draw(_SPACE) + local + at + domain + draw(_SPACE)


_EMAIL_SOUP = st.lists(
    st.sampled_from([*"aZ0._+-@ \t", "é", "--", "..", ".com", ".test", "xn--", '"']),
    max_size=20,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(email_texts(), _EMAIL_SOUP))
@example("  Person.1@Work-Mail.Example.ORG ")
@example("a" * 65 + "@example.com")
@example("a@" + "b" * 63 + ".com")
@example("a@" + "b" * 64 + ".com")
@example("a@" + ".".join(["b" * 63] * 3) + "." + "c" * 58 + ".com")  # 254 characters
@example("a@" + ".".join(["b" * 63] * 3) + "." + "c" * 59 + ".com")  # 255 characters
@example("ab--c@ab--cd.com")
@example("a@xn--bcher-kva.example")
@example("a@example.TEST")
@example("a@b.c0m")
def test_normalize_email_equals_email_validator(raw: str) -> None:
    assert normalize_email(raw) == reference_email(raw)


# --- phones -----------------------------------------------------------------------------------

# Other scripts' digits: fullwidth, Arabic-Indic, extended Arabic-Indic, Devanagari. The
# `\d` of a regex matches them; phonenumbers reads them as their ASCII values.
_ODD_DIGITS = "０１２９٠١٢٩۰۱۲९"
_DIGIT_GROUPS = st.one_of(
    st.text("0123456789", min_size=1, max_size=5),
    st.text("0123456789" + _ODD_DIGITS, min_size=1, max_size=5),
)
_PHONE_SEPARATORS = st.sampled_from(
    ["", "", " ", " ", "-", ".", "/", "  ", "\u00a0", "\t", "(", ")", " x", " ext. ", "#", "a"]
)
_PLUS = st.sampled_from(["+", "+", "+", "", "＋", "00", "++", "+ "])
_COUNTRY_CODES = st.sampled_from(sorted(str(code) for code in COUNTRY_CODE_TO_REGION_CODE))


@st.composite
def phone_texts(draw: st.DrawFn) -> str:
    text = draw(_PLUS) + draw(_COUNTRY_CODES)
    for group in draw(st.lists(_DIGIT_GROUPS, max_size=5)):
        if draw(st.integers(0, 9)) == 0:
            group = f"({group})"
        text += draw(_PHONE_SEPARATORS) + group
    return draw(_SPACE) + text + draw(_SPACE)


@cache
def _example_numbers() -> tuple[str, ...]:
    """Valid numbers of every region and number type, in E.164: random digits are rarely
    valid, so mutations of these reach the strict validators' accepting side."""
    numbers = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for number_type in vars(PhoneNumberType).values():
            if not isinstance(number_type, int):
                continue
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                numbers.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return tuple(sorted(numbers))


@st.composite
def example_phone_texts(draw: st.DrawFn) -> str:
    digits = list(draw(st.sampled_from(_example_numbers()))[1:])
    change = draw(st.sampled_from(["none", "replace", "insert", "delete", "odd digit"]))
    at = draw(st.integers(1, len(digits) - 1))
    if change == "replace":
        digits[at] = draw(st.sampled_from("0123456789"))
    elif change == "insert":
        digits.insert(at, draw(st.sampled_from("0123456789")))
    elif change == "delete":
        del digits[at]
    elif change == "odd digit":
        digits[at] = _ODD_DIGITS["0123456789".index(digits[at])] if digits[at] in "0129" else "０"
    text = "+"
    for digit in digits:
        text += draw(st.sampled_from(["", "", "", " ", "-", "."])) + digit
    return text


_REGIONS = st.sampled_from([None, None, "US", "GB", "DE", "IT"])
_POLICIES = st.sampled_from(["strict", "possible"])


@settings(max_examples=1500, deadline=None)
@given(st.one_of(phone_texts(), example_phone_texts()), _REGIONS, _POLICIES)
@example("+1 202 555 ０１４３", None, "strict")  # once returned "+1202555０１４３"
@example("+1 ２０２ ５５５ ０１４３", None, "strict")  # once invalid
@example("+١ 202 555 0143", None, "strict")
@example("+44 (0)20 7946 0958", None, "strict")
@example("+39 06 6982 0000", None, "strict")
@example("+1 (202) 555-0143", "US", "possible")
@example("＋1 202 555 0143", None, "strict")
def test_normalize_phone_equals_phonenumbers(
    raw: str, region: str | None, policy: PhonePolicy
) -> None:
    assert normalize_phone(raw, region, policy) == reference_phone(raw, region, policy)


# --- rows -------------------------------------------------------------------------------------

SCHEMA = RecordSchema(
    record_type="customers",
    attributes=(
        Attribute(key="firstName", label="First Name", required=True),
        Attribute(key="lastName", label="Last Name"),
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
        Attribute(key="scores", label="Scores", type="number", multi_value=True),
        Attribute(key="vip", label="VIP", type="boolean"),
        Attribute(key="flags", label="Flags", type="boolean", multi_value=True),
        Attribute(key="birthday", label="Birthday", type="date"),
    ),
)


def reference_row(
    validator: RowValidator, header: Sequence[str], mapping: Mapping[str, str], values: list[str]
) -> ValidatedRow:
    """A row validated the plain way, attribute by attribute: every text split (multi-value),
    trimmed, emptied ones dropped, each normalised, repeats collapsed in order."""
    mapped = set(mapping.values())
    row = ValidatedRow(
        errors=[f"Missing mandatory field: {k}" for k in SCHEMA.required_keys if k not in mapped]
    )
    for attribute in SCHEMA.attributes:
        columns = [i for i, column in enumerate(header) if mapping.get(column) == attribute.key]
        if not columns:
            continue
        texts = [values[i] for i in columns if i < len(values)]
        if attribute.multi_value:
            pieces = [p.strip() for text in texts for p in text.split(validator.separator)]
        else:
            pieces = [text.strip() for text in texts]
        pieces = [p for p in pieces if p]
        if not pieces:
            if attribute.required:
                row.errors.append(f"Missing mandatory field: {attribute.key}")
            continue
        if not attribute.multi_value and len(pieces) > 1:
            row.errors.append(f"Several values for single-value field {attribute.key}")
            continue
        normalized: list[Value] = []
        for piece in pieces:
            value, error = validator.normalize_value(attribute, piece)
            if error is not None:
                row.errors.append(error)
            elif value not in normalized:
                normalized.append(value)  # type: ignore[arg-type]
        if normalized:
            row.values[attribute.key] = normalized if attribute.multi_value else normalized[0]
    return row


_CELL_VALUES = st.sampled_from(
    [
        *("", " ", "Ann", " Ann ", "vip", "VIP", "ｖｉｐ"),
        *("a@x.com", "A@X.com ", "bad@", "+1 202 555 0143", "+12025550143", "(202) 555-0143"),
        *("555-12", "42", "42.0", "1,234", "x", "yes", "0", "true", "2024-02-30", "2024-01-31"),
    ]
)


@st.composite
def cells(draw: st.DrawFn, separator: str) -> str:
    parts = draw(st.lists(st.one_of(_CELL_VALUES, st.text(max_size=6)), min_size=1, max_size=4))
    joins = st.sampled_from([separator, f" {separator} ", f"{separator} ", "|", ";"])
    text = parts[0]
    for part in parts[1:]:
        text += draw(joins) + part
    return text


@st.composite
def files(draw: st.DrawFn) -> tuple[str, str | None, list[str], dict[str, str], list[list[str]]]:
    separator = draw(st.sampled_from(["|", ";", ","]))
    region = draw(st.sampled_from([None, "US"]))
    width = draw(st.integers(1, 8))
    header = [f"Column {i}" for i in range(width)]
    keys = st.sampled_from([None, *SCHEMA.keys])
    mapping = {c: k for c in header if (k := draw(keys)) is not None}
    # Rows may be shorter or longer than the header: the plan reads only the columns it has.
    row_width = st.integers(max(0, width - 2), width + 1)
    rows = draw(
        st.lists(
            row_width.flatmap(lambda n: st.lists(cells(separator), min_size=n, max_size=n)),
            min_size=1,
            max_size=5,
        )
    )
    return separator, region, header, mapping, rows


@settings(max_examples=300, deadline=None)
@given(files())
def test_a_row_plan_equals_the_plain_validation(
    file: tuple[str, str | None, list[str], dict[str, str], list[list[str]]],
) -> None:
    separator, region, header, mapping, rows = file
    validator = RowValidator(SCHEMA, phone_region=region, separator=separator)
    plan = validator.plan(header, mapping)
    for values in rows:
        row = plan.validate(values)
        expected = reference_row(validator, header, mapping, values)
        assert (row.values, row.errors) == (expected.values, expected.errors)
        assert repr(row.values) == repr(expected.values)  # same types too (1 == 1.0 == True)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("a@x.com", ["a@x.com"]),
        (" A@x.com | a@X.COM |b@x.com", ["a@x.com", "b@x.com"]),
        (" | ", None),
    ],
)
def test_one_multi_value_cell(cell: str, expected: list[str] | None) -> None:
    plan = RowValidator(SCHEMA).plan(["First", "Email"], {"First": "firstName", "Email": "email"})
    assert plan.validate(["Ann", cell]).values.get("email") == expected
