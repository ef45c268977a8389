"""An attribute proposed for a CSV column that maps to none (issue 25): its key from the
header, its type from the column's sample values. The admin confirms or edits both."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from domain.schema import RESERVED_KEYS, Attribute, AttributeType, RecordSchema
from domain.validation import RowValidator

KEY_MAX = 64
# Tried in this order: the first type every sample value is valid for wins ("1" and "0" are
# numbers before they are booleans; anything is a string).
GUESS_ORDER: tuple[AttributeType, ...] = ("email", "phone", "date", "number", "boolean")


def _words(header: str) -> list[str]:
    text = unicodedata.normalize("NFKD", header)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # "firstName" and "first name" both give ["first", "Name"]/["first", "name"].
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]


def propose_key(header: str, taken: Iterable[str]) -> str:
    """A camelCase key for the header, not among `taken` (nor reserved): "Company name" →
    "companyName", then "companyName2" if that is taken."""
    words = _words(header)
    key = "".join(
        w.lower() if i == 0 else w[:1].upper() + w[1:].lower() for i, w in enumerate(words)
    )
    if not key or not key[0].isalpha():
        key = "field" + key[:1].upper() + key[1:]
    key = key[:KEY_MAX]
    used = set(taken) | RESERVED_KEYS
    candidate, number = key, 2
    while candidate in used:
        suffix = str(number)
        candidate, number = key[: KEY_MAX - len(suffix)] + suffix, number + 1
    return candidate


def guess_type(samples: Sequence[str], schema: RecordSchema) -> AttributeType:
    """The narrowest type every non-empty sample value is valid for; "string" without any."""
    values = [s.strip() for s in samples if s and s.strip()]
    if not values:
        return "string"
    validator = RowValidator(schema)
    for kind in GUESS_ORDER:
        normalize = validator.normalizer(Attribute(key="probe", label="Probe", type=kind))
        if all(normalize(value)[1] is None for value in values):
            return kind
    return "string"
