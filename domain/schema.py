"""The customer schema: attributes are data, with a default set (DESIGN.md §2)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from domain.errors import Unprocessable

AttributeType = Literal["string", "email", "phone", "number", "boolean", "date"]

# A key becomes a MongoDB field name: no operators (`$x`), no paths (`a.b`), nothing odd.
_KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Fields the store keeps beside the attributes; an attribute may not shadow them.
RESERVED_KEYS = frozenset({"id", "_id", "createdAt", "updatedAt", "rev"})
IDENTIFIER_TYPES: tuple[AttributeType, ...] = ("string", "email", "phone")


class CamelModel(BaseModel):
    # extra="forbid": a misspelt flag ("multivalue") must be refused, not silently dropped.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


def normalize_name(name: str) -> str:
    """A header or synonym as compared: accents, case, spaces and punctuation removed."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", text.lower())


class Attribute(CamelModel):
    # The documented patterns are the validators' rules, so the schema says what is accepted.
    key: str = Field(json_schema_extra={"pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"})
    label: str = Field(json_schema_extra={"pattern": "\\S"})
    type: AttributeType = "string"
    required: bool = False
    multi_value: bool = False
    channel_identifier: bool = False
    synonyms: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _key_is_a_plain_name(cls, key: str) -> str:
        if not _KEY_PATTERN.fullmatch(key):
            raise ValueError(
                f"attribute key {key!r} must start with a letter and hold only letters, "
                "digits and '_' (at most 64 characters)"
            )
        if key in RESERVED_KEYS:
            raise ValueError(f"attribute key {key!r} is reserved")
        return key

    @field_validator("label")
    @classmethod
    def _label_not_blank(cls, label: str) -> str:
        if not label.strip():
            raise ValueError("attribute label must not be empty")
        return label.strip()

    @field_validator("synonyms")
    @classmethod
    def _synonyms_not_blank(cls, synonyms: tuple[str, ...]) -> tuple[str, ...]:
        if any(not normalize_name(s) for s in synonyms):
            raise ValueError("every synonym needs at least one letter or digit")
        return tuple(s.strip() for s in synonyms)

    @model_validator(mode="after")
    def _identifier_has_an_identifier_type(self) -> Attribute:
        if self.channel_identifier and self.type not in IDENTIFIER_TYPES:
            raise ValueError(
                f"channel identifier {self.key!r} must be of type "
                f"{', '.join(IDENTIFIER_TYPES)}, not {self.type}"
            )
        return self


class SchemaReplacement(CamelModel):
    """The body of a schema replacement: the attributes, and the record type if given."""

    record_type: str | None = None
    attributes: tuple[Attribute, ...] = Field(min_length=1)


class RecordSchema(CamelModel):
    record_type: str
    attributes: tuple[Attribute, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> RecordSchema:
        seen: set[str] = set()
        for attribute in self.attributes:
            if attribute.key in seen:
                raise ValueError(f"attribute key {attribute.key!r} appears more than once")
            seen.add(attribute.key)
        if not any(a.channel_identifier for a in self.attributes):
            raise ValueError("the schema needs at least one channel identifier attribute")
        # A header name must point at one attribute, or auto-mapping would be a coin toss.
        owner: dict[str, str] = {}
        for attribute in self.attributes:
            for name in {normalize_name(n) for n in (attribute.key, attribute.label)} | {
                normalize_name(s) for s in attribute.synonyms
            }:
                if owner.setdefault(name, attribute.key) != attribute.key:
                    raise ValueError(
                        f"the name {name!r} is used by both {owner[name]!r} and "
                        f"{attribute.key!r} (as key, label or synonym)"
                    )
        return self

    def attribute(self, key: str) -> Attribute | None:
        return next((a for a in self.attributes if a.key == key), None)

    @property
    def keys(self) -> list[str]:
        return [a.key for a in self.attributes]

    @property
    def required_keys(self) -> list[str]:
        return [a.key for a in self.attributes if a.required]

    @property
    def channel_identifiers(self) -> list[Attribute]:
        return [a for a in self.attributes if a.channel_identifier]

    def check_deduplication_keys(self, keys: list[str]) -> None:
        """Unprocessable unless every key names one of this schema's channel identifiers."""
        identifiers = {a.key for a in self.channel_identifiers}
        wrong = [key for key in keys if key not in identifiers]
        if wrong:
            raise Unprocessable(
                f"Not channel identifiers of {self.record_type}: {', '.join(wrong)} "
                f"(choose from {', '.join(sorted(identifiers))})"
            )


def _identifier(
    key: str, label: str, type_: AttributeType = "string", synonyms: tuple[str, ...] = ()
) -> Attribute:
    return Attribute(
        key=key,
        label=label,
        type=type_,
        multi_value=True,
        channel_identifier=True,
        synonyms=synonyms,
    )


# Synonyms cover the headers of common exports (Google Contacts, Outlook, HubSpot, Salesforce,
# Mailchimp, Shopify) and a few European languages; numbered and qualified forms such as
# "E-mail 2 - Value" or "Home City" are handled by the mapper, not listed here.
DEFAULT_CUSTOMER_SCHEMA = RecordSchema(
    record_type="customers",
    attributes=(
        Attribute(
            key="firstName",
            label="First Name",
            required=True,
            synonyms=(
                "given name",
                "forename",
                "first",
                "fname",
                "prenom",
                "vorname",
                "nombre",
                "nome",
                "voornaam",
            ),
        ),
        Attribute(
            key="lastName",
            label="Last Name",
            synonyms=(
                "surname",
                "family name",
                "last",
                "lname",
                "nachname",
                "apellido",
                "apellidos",
                "cognome",
                "achternaam",
                "nom",
                "nom de famille",
            ),
        ),
        _identifier(
            "email",
            "Email",
            "email",
            (
                "email address",
                "mail",
                "e-mail adresse",
                "correo",
                "correo electronico",
                "courriel",
                "adresse e-mail",
            ),
        ),
        _identifier(
            "phoneNumber",
            "Phone Number",
            "phone",
            (
                "phone",
                "mobile",
                "mobile phone",
                "mobile number",
                "telephone",
                "telephone number",
                "tel",
                "cell",
                "cell phone",
                "cellphone",
                "landline",
                "telefon",
                "telefono",
                "telefoon",
                "handy",
                "movil",
                "portable",
                "cellulare",
            ),
        ),
        Attribute(
            key="city",
            label="City",
            synonyms=("town", "locality", "stadt", "ort", "ciudad", "ville", "citta", "plaats"),
        ),
        Attribute(
            key="labels",
            label="Labels",
            multi_value=True,
            synonyms=("tags", "label", "tag", "groups", "group membership", "categories"),
        ),
        _identifier("facebook", "Facebook"),
        _identifier("instagram", "Instagram"),
        _identifier("web", "Website", synonyms=("web", "web page", "url", "homepage", "site")),
        _identifier("youtube", "YouTube"),
        _identifier("linkedin", "LinkedIn"),
        _identifier("twitter", "Twitter", synonyms=("x", "twitter handle")),
        _identifier("telegram", "Telegram"),
        _identifier("whatsapp", "WhatsApp", "phone", ("whatsapp number",)),
        _identifier("voice", "Voice", "phone"),
        _identifier("viber", "Viber", "phone"),
    ),
)

_EXAMPLE_BY_TYPE: dict[str, str] = {
    "string": "example",
    "email": "jane.doe@example.com",
    # Not the documentation's example customer's (+12025550143): importing the template
    # after that example must not meet its phone number.
    "phone": "+13125550199",
    "number": "42",
    "boolean": "true",
    "date": "2024-01-31",
}
# Friendlier examples for the default string attributes.
_EXAMPLE_TEXT_BY_KEY = {
    "firstName": "Jane",
    "lastName": "Doe",
    "city": "Boston",
    "labels": "vip|newsletter",
    "facebook": "https://www.facebook.com/jane.doe",
    "instagram": "https://www.instagram.com/jane.doe",
    "web": "https://jane-doe.example.com",
    "youtube": "https://www.youtube.com/@janedoe",
    "linkedin": "https://www.linkedin.com/in/jane-doe",
    "twitter": "@janedoe",
    "telegram": "@janedoe",
}


def example_value(attribute: Attribute) -> str:
    """A value that validates for the attribute, for the CSV template."""
    if attribute.type == "string":
        return _EXAMPLE_TEXT_BY_KEY.get(attribute.key, _EXAMPLE_BY_TYPE["string"])
    return _EXAMPLE_BY_TYPE[attribute.type]


RECORD_TYPE_LABELS = {"customers": "Customers"}
DEFAULT_SCHEMAS = {"customers": DEFAULT_CUSTOMER_SCHEMA}
