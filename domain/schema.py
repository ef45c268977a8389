"""The customer schema: attributes are data, with a default set (DESIGN.md §2)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

AttributeType = Literal["string", "email", "phone", "number", "boolean", "date"]

# A key becomes a MongoDB field name: no operators, no paths, nothing odd.
_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Fields the store keeps beside the attributes; an attribute may not shadow them.
RESERVED_KEYS = frozenset({"id", "_id", "createdAt", "updatedAt", "rev"})


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Attribute(CamelModel):
    key: str
    label: str
    type: AttributeType = "string"
    required: bool = False
    multi_value: bool = False
    channel_identifier: bool = False
    synonyms: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _key_is_a_plain_name(cls, key: str) -> str:
        if not _KEY_PATTERN.match(key):
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


class RecordSchema(CamelModel):
    record_type: str
    attributes: tuple[Attribute, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys_unique(self) -> RecordSchema:
        seen: set[str] = set()
        for attribute in self.attributes:
            if attribute.key in seen:
                raise ValueError(f"attribute key {attribute.key!r} appears more than once")
            seen.add(attribute.key)
        if not any(a.channel_identifier for a in self.attributes):
            raise ValueError("the schema needs at least one channel identifier attribute")
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


DEFAULT_CUSTOMER_SCHEMA = RecordSchema(
    record_type="customers",
    attributes=(
        Attribute(
            key="firstName",
            label="First Name",
            required=True,
            synonyms=("first name", "given name", "forename", "first"),
        ),
        Attribute(
            key="lastName",
            label="Last Name",
            synonyms=("last name", "surname", "family name", "last"),
        ),
        _identifier(
            "email", "Email", "email", ("e-mail", "email address", "e-mail address", "mail")
        ),
        _identifier(
            "phoneNumber",
            "Phone Number",
            "phone",
            (
                "phone",
                "phone number",
                "mobile",
                "mobile phone",
                "telephone",
                "tel",
                "cell",
                "cell phone",
            ),
        ),
        Attribute(key="city", label="City", synonyms=("town", "mailing city", "billing city")),
        Attribute(
            key="labels",
            label="Labels",
            multi_value=True,
            synonyms=("tags", "label", "tag", "groups"),
        ),
        _identifier("facebook", "Facebook"),
        _identifier("instagram", "Instagram"),
        _identifier("web", "Web", synonyms=("website", "web page", "url")),
        _identifier("youtube", "YouTube"),
        _identifier("linkedin", "LinkedIn"),
        _identifier("twitter", "Twitter", synonyms=("x", "twitter handle")),
        _identifier("telegram", "Telegram"),
        _identifier("whatsapp", "WhatsApp", "phone", ("whatsapp number",)),
        _identifier("voice", "Voice", "phone"),
        _identifier("viber", "Viber", "phone"),
    ),
)

RECORD_TYPE_LABELS = {"customers": "Customers"}
DEFAULT_SCHEMAS = {"customers": DEFAULT_CUSTOMER_SCHEMA}
