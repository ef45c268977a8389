"""Validating and normalising one row against the schema (DESIGN.md §2, §3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain.schema import Attribute, RecordSchema

PhonePolicy = Literal["strict", "possible"]
Value = str | float | bool
Profile = dict[str, Any]  # attribute key → value, or list of values for multi-value attributes


@dataclass
class ValidatedRow:
    values: Profile = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@lru_cache(maxsize=65536)
def normalize_email(raw: str) -> str | None:
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str | None, policy: PhonePolicy) -> str | None:
    text = raw.strip()
    if not text.startswith("+") and region is None:
        return None
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
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class RowValidator:
    schema: RecordSchema
    phone_region: str | None = None
    phone_policy: PhonePolicy = "strict"
    separator: str = "|"

    def normalize_value(self, attribute: Attribute, raw: str) -> tuple[Value | None, str | None]:
        """(normalised value, None) or (None, reason)."""
        text = raw.strip()
        kind = attribute.type
        if kind == "email":
            email = normalize_email(text)
            return (email, None) if email else (None, f"Invalid email format: '{text}'")
        if kind == "phone":
            phone = normalize_phone(text, self.phone_region, self.phone_policy)
            if phone:
                return phone, None
            where = f" for region {self.phone_region}" if self.phone_region else ""
            hint = (
                ""
                if text.startswith("+") or self.phone_region
                else (" (no country code and no default region)")
            )
            return None, f"Invalid phone number{where}: '{text}'{hint}"
        if kind == "number":
            try:
                number = float(text.replace(",", "")) if text else None
            except ValueError:
                number = None
            if number is None or number != number or number in (float("inf"), float("-inf")):
                return None, f"Invalid number for {attribute.key}: '{text}'"
            return number, None
        if kind == "boolean":
            lowered = text.lower()
            if lowered in _TRUE:
                return True, None
            if lowered in _FALSE:
                return False, None
            return None, f"Invalid boolean for {attribute.key}: '{text}' (use true or false)"
        if kind == "date":
            try:
                return dt.date.fromisoformat(text).isoformat(), None
            except ValueError:
                return None, f"Invalid date for {attribute.key}: '{text}' (use YYYY-MM-DD)"
        return text, None

    def validate_cells(self, cells: Mapping[str, Sequence[str]]) -> ValidatedRow:
        """`cells`: attribute key → the raw texts given for it (several columns may feed one)."""
        row = ValidatedRow()
        for attribute in self.schema.attributes:
            texts = cells.get(attribute.key, ())
            pieces: list[str] = []
            for text in texts:
                if attribute.multi_value:
                    pieces.extend(p.strip() for p in text.split(self.separator))
                else:
                    pieces.append(text.strip())
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
                value, error = self.normalize_value(attribute, piece)
                if error:
                    row.errors.append(error)
                elif value not in normalized:
                    normalized.append(value)  # type: ignore[arg-type]
            if normalized:
                row.values[attribute.key] = normalized if attribute.multi_value else normalized[0]
        return row

    def validate_csv_row(
        self, header: Sequence[str], values: Sequence[str], mapping: Mapping[str, str]
    ) -> ValidatedRow:
        cells: dict[str, list[str]] = {}
        for column, text in zip(header, values, strict=False):
            key = mapping.get(column)
            if key is not None:
                cells.setdefault(key, []).append(text)
        return self.validate_cells(cells)
