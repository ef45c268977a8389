"""Suggesting which schema attribute each CSV column holds, and applying user overrides.

Stages, first hit wins: the exact key; the key or label normalised (case, spaces, `_`, `-`,
accents); a synonym; the header's words without numbering and context ("E-mail 2 - Value",
"Home Phone", "Default Address City"); fuzzy matching for typos; and, for headers that say
nothing, the sample values (a column of email addresses is an email column). A header with a
word that makes it describe something else ("Phone 1 - Label", "Middle Name", "Record ID",
"Email Opt Out", "Owner Email") is never mapped by its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from domain.errors import Unprocessable, named
from domain.schema import Attribute, RecordSchema, normalize_name

CONFIDENCE_BAR = 0.75
EXACT, NORMALIZED, SYNONYM, WORDS = 1.0, 0.95, 0.9, 0.85
FUZZY_FLOOR = 80  # rapidfuzz ratio below which a fuzzy candidate is not worth showing
CONTENT_SHARE = 0.9  # confidence of a content match in which every sample value fits
VETOED_CONTENT_CAP = 0.6  # content match of a column whose header speaks against it: flagged

# Words that only say which of several values a column holds, or whose: dropped before
# matching the rest ("Home Phone 2" is a phone, "Default Address City" a city).
CONTEXT_WORDS = frozenset(
    [
        "value",
        "primary",
        "main",
        "default",
        "preferred",
        "home",
        "work",
        "business",
        "office",
        "personal",
        "private",
        "other",
        "mobile",
        "cell",
        "billing",
        "shipping",
        "mailing",
        "postal",
        "address",
        "customer",
        "contact",
        "client",
        "person",
        "url",
        "link",
        "profile",
        "handle",
        "username",
        "page",
        "account",
        "number",
        "no",
        "nr",
    ]
)
# Words that make a column describe something other than the attribute its other words name.
QUALIFIER_WORDS = frozenset(
    [
        "label",
        "labels",
        "type",
        "kind",
        "id",
        "ids",
        "identifier",
        "key",
        "opt",
        "optin",
        "optout",
        "out",
        "consent",
        "accepts",
        "marketing",
        "subscribed",
        "subscription",
        "unsubscribed",
        "status",
        "verified",
        "validated",
        "bounce",
        "bounced",
        "domain",
        "date",
        "time",
        "count",
        "format",
        "permission",
        "source",
        "display",
        "not",
        "do",
        "middle",
        "additional",
        "nick",
        "nickname",
        "maiden",
        "prefix",
        "suffix",
        "title",
        "salutation",
        "phonetic",
        "yomi",
        "assistant",
        "assistants",
        "manager",
        "managers",
        "spouse",
        "company",
        "organization",
        "organisation",
        "owner",
        "rep",
        "fax",
        "pager",
        "telex",
        "emergency",
        "parent",
        "guardian",
        "referred",
    ]
)
# A channel identifier's name followed by one of these names that identifier ("Facebook ID",
# "Telegram Handle"), although "id" alone makes a header describe something else.
IDENTIFIER_SUFFIXES = frozenset(["id", "handle", "number", "url", "profile", "username"])
# Sample values count as a kind of content when they match.
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE_SHAPE = re.compile(r"\+?[\d ().\-/]{7,25}")
_DATE_SHAPE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_HOST_SHAPE = re.compile(r"[a-z0-9.-]+\.[a-z]{2,}")
_SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "instagram.com": "instagram",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "linkedin.com": "linkedin",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "t.me": "telegram",
    "telegram.me": "telegram",
}


@dataclass(frozen=True)
class ColumnSuggestion:
    """A column's suggested attribute. `field` is None when the column stays unmapped; then a
    method other than "none" with a confidence under the bar flags a weak candidate that the
    user should look at."""

    column: str
    field: str | None
    method: str  # exact | normalized | synonym | fuzzy | content | none
    confidence: float


@dataclass(frozen=True)
class _Candidate:
    field: str
    method: str
    confidence: float


def header_words(name: str) -> list[str]:
    """Lower-case words of a header: camelCase, punctuation and digits split, "e-mail" one word."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    text = re.sub(r"\be[\s_\-]?mail", "email", text, flags=re.IGNORECASE)
    return [normalize_name(w) for w in re.split(r"[^0-9A-Za-zÀ-ÿ]+|(?<=\D)(?=\d)", text) if w]


def _is_email(value: str) -> bool:
    return _EMAIL_SHAPE.fullmatch(value) is not None


def _is_phone(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return _PHONE_SHAPE.fullmatch(value) is not None and 7 <= digits <= 15


def _looks_like_a_number_on_its_own(value: str) -> bool:
    """A phone recognised by content alone needs a "+" or phone-like separators: bare digits
    are as likely ids, amounts or postcodes, and dotted or dashed dates and IP addresses are
    not phones either."""
    if not _is_phone(value) or _DATE_SHAPE.fullmatch(value) or value[0] not in "+(0123456789":
        return False
    return value.startswith("+") or any(ch in value for ch in " -(")


def _url_kind(value: str) -> str | None:
    if " " in value or _is_email(value):
        return None
    text = value if "://" in value else f"https://{value}"
    try:
        host = (urlsplit(text).hostname or "").removeprefix("www.").removeprefix("m.")
    except ValueError:  # e.g. an invalid port
        return None
    if not _HOST_SHAPE.fullmatch(host):
        return None
    return _SOCIAL_HOSTS.get(host, "web")


class _Matcher:
    """The schema's names, prepared once per suggestion run."""

    def __init__(self, schema: RecordSchema) -> None:
        self.schema = schema
        self.by_key = {a.key: a for a in schema.attributes}
        self.by_normalized: dict[str, str] = {}
        self.by_synonym: dict[str, str] = {}
        for a in schema.attributes:
            self.by_normalized.setdefault(normalize_name(a.key), a.key)
            self.by_normalized.setdefault(normalize_name(a.label), a.key)
            for synonym in a.synonyms:
                self.by_synonym.setdefault(normalize_name(synonym), a.key)
        self.names = {**self.by_synonym, **self.by_normalized}

    def by_name(self, name: str) -> _Candidate | None:
        normalized = normalize_name(name)
        if normalized in self.by_normalized:
            return _Candidate(self.by_normalized[normalized], "normalized", NORMALIZED)
        if normalized in self.by_synonym:
            return _Candidate(self.by_synonym[normalized], "synonym", SYNONYM)
        return None

    def by_words(self, words: Sequence[str]) -> _Candidate | None:
        core = [w for w in words if w not in CONTEXT_WORDS and not w.isdigit()]
        if not core or len(core) == len(words):
            return None  # nothing left, or nothing dropped: the whole name was tried already
        name = "".join(core)
        found = self.names.get(name)
        return _Candidate(found, "synonym", WORDS) if found else None

    def identifier_named(self, words: Sequence[str]) -> _Candidate | None:
        """A channel identifier's name and then one suffix word, e.g. "Facebook ID"."""
        if len(words) < 2 or words[-1] not in IDENTIFIER_SUFFIXES:
            return None
        found = self.names.get("".join(words[:-1]))
        if found is None or not self.by_key[found].channel_identifier:
            return None
        return _Candidate(found, "synonym", WORDS)

    def by_fuzzy(self, words: Sequence[str]) -> _Candidate | None:
        core = "".join(w for w in words if not w.isdigit())
        if len(core) < 5:  # short names match too much: "name" would become "lname"
            return None
        best = process.extractOne(core, self.names.keys(), scorer=fuzz.ratio)
        if best is None or best[1] < FUZZY_FLOOR:
            return None
        return _Candidate(self.names[best[0]], "fuzzy", round(best[1] / 100 * 0.9, 3))

    def by_content(self, values: Sequence[str]) -> _Candidate | None:
        """The attribute whose kind of value every sample value has; confidence grows with
        the number of sample values (three or more for full confidence)."""
        if not values:
            return None
        kinds: list[tuple[Callable[[str], bool], str | None]] = [
            (_is_email, self._first_of_type("email")),
            (_looks_like_a_number_on_its_own, self._first_of_type("phone")),
        ]
        for fits, key in kinds:
            if key is not None:
                share = sum(map(fits, values)) / len(values)
                if share >= 0.5:
                    return _Candidate(key, "content", self._content_confidence(share, values))
        url_kinds = {_url_kind(v) for v in values}
        if len(url_kinds) == 1 and None not in url_kinds:
            key = url_kinds.pop()
            if key in self.by_key and self.by_key[key].type == "string":
                return _Candidate(key, "content", self._content_confidence(1.0, values))
        return None

    @staticmethod
    def _content_confidence(share: float, values: Sequence[str]) -> float:
        return round(CONTENT_SHARE * share * min(1.0, len(values) / 3), 3)

    def _first_of_type(self, kind: str) -> str | None:
        attributes = [a for a in self.schema.attributes if a.type == kind]
        identifiers = [a for a in attributes if a.channel_identifier]
        chosen = identifiers or attributes
        return chosen[0].key if chosen else None

    def contradicted_by_values(self, attribute: Attribute, values: Sequence[str]) -> bool:
        """An email or phone column whose sample values are mostly something else (such as
        "Work", "Home") is not that column, whatever its header says."""
        fits = {"email": _is_email, "phone": _is_phone}.get(attribute.type)
        if fits is None or len(values) < 2:
            return False
        return sum(map(fits, values)) / len(values) < 0.5


def _suggest_column(
    matcher: _Matcher, column: str, values: Sequence[str]
) -> tuple[_Candidate | None, bool]:
    """(best candidate, whether the header vetoes name-based matches)."""
    if column in matcher.by_key:
        return _Candidate(column, "exact", EXACT), False
    by_name = matcher.by_name(column)
    if by_name is not None:
        return by_name, False
    words = header_words(column)
    named_identifier = matcher.identifier_named(words)
    if named_identifier is not None:
        return named_identifier, False
    if any(w in QUALIFIER_WORDS for w in words):
        return None, True
    return matcher.by_words(words) or matcher.by_fuzzy(words), False


def suggest_mapping(
    header: Sequence[str], sample_rows: Sequence[Sequence[str]], schema: RecordSchema
) -> list[ColumnSuggestion]:
    """One suggestion per column, in header order. Several columns may map to a multi-value
    attribute; a single-value attribute goes to the most confident column (the first on ties).
    Columns with nothing to map to are suggested left out."""
    matcher = _Matcher(schema)
    candidates: list[_Candidate | None] = []
    for index, column in enumerate(header):
        values = [row[index].strip() for row in sample_rows if index < len(row)]
        values = [v for v in values if v]
        candidate, vetoed = _suggest_column(matcher, column, values)
        if (
            candidate is not None
            and candidate.method != "exact"
            and matcher.contradicted_by_values(matcher.by_key[candidate.field], values)
        ):
            candidate = None
        if candidate is None:
            candidate = matcher.by_content(values)
            if candidate is not None and vetoed:
                capped = min(candidate.confidence, VETOED_CONTENT_CAP)
                candidate = _Candidate(candidate.field, candidate.method, capped)
        candidates.append(candidate)
    winners = _single_value_winners(candidates, matcher)
    suggestions = []
    for index, (column, candidate) in enumerate(zip(header, candidates, strict=True)):
        if candidate is None:
            suggestions.append(ColumnSuggestion(column, None, "none", 0.0))
        elif candidate.confidence < CONFIDENCE_BAR:
            suggestions.append(
                ColumnSuggestion(column, None, candidate.method, candidate.confidence)
            )
        elif matcher.by_key[candidate.field].multi_value or index in winners:
            suggestions.append(
                ColumnSuggestion(column, candidate.field, candidate.method, candidate.confidence)
            )
        else:
            suggestions.append(ColumnSuggestion(column, None, "none", 0.0))
    return suggestions


def _single_value_winners(candidates: Sequence[_Candidate | None], matcher: _Matcher) -> set[int]:
    """The columns (indexes) that keep their single-value attribute: per attribute, the most
    confident column above the bar, the first on ties."""
    best: dict[str, tuple[float, int]] = {}
    for index, candidate in enumerate(candidates):
        if candidate is None or candidate.confidence < CONFIDENCE_BAR:
            continue
        if matcher.by_key[candidate.field].multi_value:
            continue
        current = best.get(candidate.field)
        if current is None or candidate.confidence > current[0]:
            best[candidate.field] = (candidate.confidence, index)
    return {index for _, index in best.values()}


def resolve_mapping(
    header: Sequence[str],
    suggestions: Sequence[ColumnSuggestion],
    overrides: Mapping[str, str | None] | None,
    schema: RecordSchema,
) -> dict[str, str]:
    """Column name → attribute key, after the user's overrides; validated. A column the user
    maps to a single-value attribute takes it from a suggested column."""
    overrides = overrides or {}
    unknown_columns = [c for c in overrides if c not in header]
    if unknown_columns:
        raise Unprocessable(
            f"Mapping names columns that are not in the file: {named(unknown_columns)}"
        )
    refuse_unknown_attributes(overrides, schema)
    chosen = {column: field for column, field in overrides.items() if field is not None}
    used: dict[str, str] = {}
    for column, field in chosen.items():
        attribute = schema.attribute(field)
        assert attribute is not None
        if not attribute.multi_value and field in used:
            raise Unprocessable(
                f"Columns {used[field]!r} and {column!r} both map to {field!r}, "
                "which holds a single value"
            )
        used.setdefault(field, column)
    mapping = {}
    for column in header:
        if column in overrides:
            if column in chosen:
                mapping[column] = chosen[column]
            continue
        suggested = next((s.field for s in suggestions if s.column == column), None)
        attribute = schema.attribute(suggested) if suggested else None
        if attribute is None or (not attribute.multi_value and attribute.key in used):
            continue
        mapping[column] = attribute.key
        used.setdefault(attribute.key, column)
    return mapping


def refuse_unknown_attributes(mapping: Mapping[str, str | None], schema: RecordSchema) -> None:
    unknown = sorted({f for f in mapping.values() if f is not None and not schema.attribute(f)})
    if unknown:
        raise Unprocessable(f"Mapping names unknown attributes: {named(unknown)}")


def missing_required(mapping: Mapping[str, str], schema: RecordSchema) -> list[str]:
    mapped = set(mapping.values())
    return [key for key in schema.required_keys if key not in mapped]
