"""Validating and normalising one row against the schema (DESIGN.md §2, §3).

email-validator and phonenumbers cost tens of microseconds a value. The common shapes
("jane.doe@example.com", "+1 202-555-0143") take exact fast paths built from the same rules
and metadata the libraries use; anything else goes to the libraries.
tests/unit/test_validation_fast_paths.py checks on generated inputs that every fast path
(and the row plan) gives exactly what the libraries (and plain per-attribute validation) give.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Literal

import email_validator
import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata

from domain.schema import Attribute, RecordSchema

PhonePolicy = Literal["strict", "possible"]
Value = str | float | bool
Profile = dict[str, Any]  # attribute key → value, or list of values for multi-value attributes
Normalized = tuple[Value | None, str | None]  # (value, None) or (None, reason)


@dataclass
class ValidatedRow:
    values: Profile = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# --- email ----------------------------------------------------------------------------------

# Dot-atom local part of plain characters and a hostname of letters, digits and inner hyphens
# under a letters-only top-level domain: email-validator accepts every such address and
# normalises it to itself (domain lower-cased), so lower-casing it is the whole job.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})"
)
_EMAIL_MAX_LENGTH = 254
_SPECIAL_USE_TLDS = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    """The normalised address when `text` is a plain address, else None (undecided)."""
    if not text.isascii() or len(text) > _EMAIL_MAX_LENGTH:
        return None
    lowered = text.lower()
    match = _PLAIN_EMAIL.fullmatch(lowered)
    # "--" inside the domain can be Punycode or an invalid "ab--" label: the library decides.
    if match is None or match[1] in _SPECIAL_USE_TLDS or "--" in lowered.partition("@")[2]:
        return None
    return lowered


# Caches sit on the slow library paths only: a fast-path value costs less than a cache miss
# (values in a file are mostly unique), while a repeated odd value ("n/a", national-format
# phones) is worth remembering.
@lru_cache(maxsize=65536)
def _email_with_library(text: str) -> str | None:
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_email(raw: str) -> str | None:
    """The address trimmed, validated (syntax only) and lower-cased; None when invalid."""
    text = raw.strip()
    return _plain_email(text) or _email_with_library(text)


# --- phone ----------------------------------------------------------------------------------

# "+", digits, and single spaces, dots or hyphens between groups; one group may be in
# parentheses. For these, phonenumbers.parse reduces to: the digits after "+", split into a
# country code and a national number.
_PLUS_NUMBER = re.compile(r"\+\d+(?:[ .-]?\(\d+\))?(?:[ .-]?\d+)*")
_FORMATTING = str.maketrans("", "", " .-()")
_MIN_NSN, _MAX_NSN = 2, 17  # phonenumbers' bounds on a national significant number


def _desc_pattern(desc: Any) -> str | None:
    """A PhoneNumberDesc as one regex: its possible lengths as a lookahead, then its
    national number pattern (phonenumbers checks the lengths, then fullmatches the pattern)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = [n for n in desc.possible_length if n > 0]
    length_check = "(?=(?:" + "|".join(rf"\d{{{n}}}" for n in lengths) + r")\Z)" if lengths else ""
    return f"{length_check}(?:{desc.national_number_pattern})"


@cache
def _region_validator(region: str) -> re.Pattern[str] | None:
    """One regex equivalent to `_number_type_helper(nsn, metadata) != UNKNOWN`: the general
    description matches, and so does one of the number types that function tries."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    general = _desc_pattern(metadata.general_desc) if metadata else None
    if metadata is None or general is None:
        return None
    descs = [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    types = [p for p in map(_desc_pattern, descs) if p is not None]
    if not types:
        return None
    return re.compile(rf"(?=(?:{general})\Z)(?:" + "|".join(f"(?:{t})" for t in types) + ")")


@dataclass(frozen=True)
class _CountryRules:
    national_prefix: re.Pattern[str] | None  # the main region's national_prefix_for_parsing
    # (leading digits or None, validator) per region, in phonenumbers' order
    regions: tuple[tuple[re.Pattern[str] | None, re.Pattern[str] | None], ...]


@cache
def _country_rules(country_code: int) -> _CountryRules | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if not regions or REGION_CODE_FOR_NON_GEO_ENTITY in regions:
        return None
    main = PhoneMetadata.metadata_for_region(regions[0], None)
    if main is None:
        return None
    rules = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        rules.append((leading, _region_validator(region)))
    prefix = main.national_prefix_for_parsing
    return _CountryRules(re.compile(prefix) if prefix else None, tuple(rules))


def _is_valid_national_number(rules: _CountryRules, nsn: str) -> bool:
    """phonenumbers.is_valid_number: pick the region (by leading digits, else by a valid
    pattern when the country code has several regions), then check its patterns."""
    if len(rules.regions) == 1:
        validator = rules.regions[0][1]
        return validator is not None and validator.fullmatch(nsn) is not None
    for leading, validator in rules.regions:
        if leading is not None:
            if leading.match(nsn):
                return validator is not None and validator.fullmatch(nsn) is not None
        elif validator is not None and validator.fullmatch(nsn):
            return True
    return False


def _plus_number(text: str, policy: PhonePolicy) -> tuple[bool, str | None]:
    """(decided, E.164 or None) for a "+" number in a plain shape; (False, None) sends the
    number to phonenumbers (other shapes, national prefixes, leading zeros, non-geographic
    codes)."""
    # Only ASCII digits: `\d` also matches other scripts' digits, which phonenumbers reads
    # as their ASCII values (and formats as such).
    if not text.isascii() or not _PLUS_NUMBER.fullmatch(text):
        return False, None
    digits = text.translate(_FORMATTING)[1:]
    if len(digits) <= _MIN_NSN or digits[0] == "0":
        return False, None
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return False, None
    nsn = digits[size:]
    rules = _country_rules(country_code)
    if (
        rules is None
        or not _MIN_NSN <= len(nsn) <= _MAX_NSN
        or nsn[0] == "0"
        or (rules.national_prefix is not None and rules.national_prefix.match(nsn))
    ):
        return False, None
    if policy == "strict":
        ok = _is_valid_national_number(rules, nsn)
    else:
        number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(nsn))
        ok = phonenumbers.is_possible_number(number)
    return True, f"+{country_code}{nsn}" if ok else None


@lru_cache(maxsize=65536)
def _phone_with_library(text: str, region: str | None, policy: PhonePolicy) -> str | None:
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    ok = (
        phonenumbers.is_valid_number(number)
        if policy == "strict"
        else phonenumbers.is_possible_number(number)
    )
    return with_extension(number) if ok else None


def with_extension(number: phonenumbers.PhoneNumber) -> str:
    """E.164, and the extension (`ext. 12`, `x12`) after ";ext=" as RFC 3966 writes it:
    E.164 has no place for one, and dropping it would lose data without a word."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def normalize_phone(raw: str, region: str | None, policy: PhonePolicy) -> str | None:
    """The number in E.164 (with its extension, if any, after ";ext="), or None when it is
    invalid under the policy. A number without a leading "+" needs a default region."""
    text = raw.strip()
    if not text.startswith("+"):
        return None if region is None else _phone_with_library(text, region, policy)
    decided, e164 = _plus_number(text, policy)
    return e164 if decided else _phone_with_library(text, region, policy)


# --- other types ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # 1,234,567.89
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT64_DIGITS = 19  # digits of the largest 64-bit integer, 9223372036854775807
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


def _number(key: str, text: str) -> Normalized:
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "")
    elif not _NUMBER.fullmatch(text):
        return None, f"Invalid number for {key}: '{text}'"
    if re.fullmatch(r"[+-]?\d+", text):
        # A whole number is stored as MongoDB's 64-bit integer: one beyond it could not be
        # written, and its row would take the whole import down with it. The length check
        # comes first: Python refuses to read more than 4,300 digits.
        whole = int(text) if len(text.lstrip("+-").lstrip("0")) <= _INT64_DIGITS else None
        if whole is None or not -(2**63) <= whole < 2**63:
            return None, f"Invalid number for {key}: '{text}' (too large)"
        return whole, None
    number = float(text)
    if not math.isfinite(number):
        return None, f"Invalid number for {key}: '{text}' (too large)"
    return number, None


def _boolean(key: str, text: str) -> Normalized:
    lowered = text.lower()
    if lowered in _TRUE:
        return True, None
    if lowered in _FALSE:
        return False, None
    return None, f"Invalid boolean for {key}: '{text}' (use true or false)"


def _date(key: str, text: str) -> Normalized:
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text).isoformat(), None
        except ValueError:
            pass
    return None, f"Invalid date for {key}: '{text}' (use YYYY-MM-DD)"


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AttributePlan:
    """How one mapped attribute is read from a CSV row: its columns and its normaliser."""

    key: str
    required: bool
    multi_value: bool
    columns: tuple[int, ...]
    normalize: Callable[[str], Normalized]


@dataclass(frozen=True)
class RowPlan:
    """Validation of rows of one header and mapping, with the per-row lookups done once."""

    attributes: tuple[_AttributePlan, ...]
    separator: str
    missing_required: tuple[str, ...]  # required attributes no column maps to

    def validate(self, values: Sequence[str]) -> ValidatedRow:
        row = ValidatedRow(errors=[f"Missing mandatory field: {k}" for k in self.missing_required])
        width = len(values)
        separator = self.separator
        for plan in self.attributes:
            texts = [values[i] for i in plan.columns if i < width]
            _collect(plan, texts, separator, row)
        return row


def _pieces(texts: Sequence[str], multi_value: bool, separator: str) -> list[str]:
    """The trimmed, non-empty values in `texts`; a multi-value text is split at the separator
    (a text without it is one value, so the split is skipped)."""
    pieces: list[str] = []
    for text in texts:
        if multi_value and separator in text:
            pieces.extend(filter(None, map(str.strip, text.split(separator))))
        elif stripped := text.strip():
            pieces.append(stripped)
    return pieces


def _collect(plan: _AttributePlan, texts: Sequence[str], separator: str, row: ValidatedRow) -> None:
    """Validate the raw texts given for one attribute into `row`."""
    pieces = _pieces(texts, plan.multi_value, separator)
    if not pieces:
        if plan.required:
            row.errors.append(f"Missing mandatory field: {plan.key}")
        return
    if len(pieces) == 1:  # the common case, without the list of distinct values
        value, error = plan.normalize(pieces[0])
        if error is not None:
            row.errors.append(error)
        else:
            row.values[plan.key] = [value] if plan.multi_value else value
        return
    if not plan.multi_value:
        row.errors.append(f"Several values for single-value field {plan.key}")
        return
    normalized: list[Value] = []
    for piece in pieces:
        value, error = plan.normalize(piece)
        if error is not None:
            row.errors.append(error)
        elif value not in normalized:
            normalized.append(value)  # type: ignore[arg-type]
    if normalized:
        row.values[plan.key] = normalized


@dataclass(frozen=True)
class RowValidator:
    schema: RecordSchema
    phone_region: str | None = None
    phone_policy: PhonePolicy = "strict"
    separator: str = "|"
    # The plan of the last (header, mapping) seen: an import validates every row with one.
    _last_plan: list[tuple[Sequence[str], Mapping[str, str], RowPlan]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def _email(self, text: str) -> Normalized:
        email = normalize_email(text)
        return (email, None) if email else (None, f"Invalid email format: '{text}'")

    def _phone(self, text: str) -> Normalized:
        phone = normalize_phone(text, self.phone_region, self.phone_policy)
        if phone:
            return phone, None
        if self.phone_region:
            return None, f"Invalid phone number for region {self.phone_region}: '{text}'"
        if text.startswith("+"):
            return None, f"Invalid phone number: '{text}'"
        return None, (
            f"Invalid phone number: '{text}' (no country code such as +1, "
            "and no default region set for the import)"
        )

    def normalizer(self, attribute: Attribute) -> Callable[[str], Normalized]:
        """The function that normalises a trimmed, non-empty text for the attribute."""
        key = attribute.key
        kinds: dict[str, Callable[[str], Normalized]] = {
            "email": self._email,
            "phone": self._phone,
            "number": lambda text: _number(key, text),
            "boolean": lambda text: _boolean(key, text),
            "date": lambda text: _date(key, text),
            "string": lambda text: (text, None),
        }
        return kinds[attribute.type]

    def normalize_value(self, attribute: Attribute, raw: str) -> Normalized:
        """(normalised value, None) or (None, reason)."""
        return self.normalizer(attribute)(raw.strip())

    def validate_cells(self, cells: Mapping[str, Sequence[str]]) -> ValidatedRow:
        """`cells`: attribute key → the raw texts given for it (several columns may feed one)."""
        row = ValidatedRow()
        for attribute in self.schema.attributes:
            plan = _AttributePlan(
                attribute.key,
                attribute.required,
                attribute.multi_value,
                (),
                self.normalizer(attribute),
            )
            _collect(plan, cells.get(attribute.key, ()), self.separator, row)
        return row

    def plan(self, header: Sequence[str], mapping: Mapping[str, str]) -> RowPlan:
        """The row plan for files with this header and column → attribute mapping."""
        columns: dict[str, list[int]] = {}
        for index, column in enumerate(header):
            key = mapping.get(column)
            if key is not None:
                columns.setdefault(key, []).append(index)
        attributes = tuple(
            _AttributePlan(
                a.key,
                a.required,
                a.multi_value,
                tuple(columns[a.key]),
                self.normalizer(a),
            )
            for a in self.schema.attributes
            if a.key in columns
        )
        missing = tuple(k for k in self.schema.required_keys if k not in columns)
        return RowPlan(attributes, self.separator, missing)

    def validate_csv_row(
        self, header: Sequence[str], values: Sequence[str], mapping: Mapping[str, str]
    ) -> ValidatedRow:
        last = self._last_plan
        if not last or last[0][0] is not header or last[0][1] is not mapping:
            last[:] = [(header, mapping, self.plan(header, mapping))]
        return last[0][2].validate(values)
