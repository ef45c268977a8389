"""The schema as data: the default set and the rules an edited schema must keep."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.schema import DEFAULT_CUSTOMER_SCHEMA, RecordSchema, example_value
from domain.validation import RowValidator


def schema_with(*attributes: dict[str, Any]) -> RecordSchema:
    base = {"key": "email", "label": "Email", "type": "email", "channelIdentifier": True}
    return RecordSchema.model_validate(
        {"recordType": "customers", "attributes": [base, *attributes]}
    )


def test_the_default_schema_has_the_fixed_keys_and_types() -> None:
    types = {
        a.key: (a.type, a.required, a.multi_value, a.channel_identifier)
        for a in DEFAULT_CUSTOMER_SCHEMA.attributes
    }
    assert types["firstName"] == ("string", True, False, False)
    assert types["email"] == ("email", False, True, True)
    assert types["phoneNumber"] == ("phone", False, True, True)
    assert types["labels"] == ("string", False, True, False)
    assert [k for k, t in types.items() if t[0] == "phone"] == [
        "phoneNumber",
        "whatsapp",
        "voice",
        "viber",
    ]
    assert DEFAULT_CUSTOMER_SCHEMA.keys[:6] == [
        "firstName",
        "lastName",
        "email",
        "phoneNumber",
        "city",
        "labels",
    ]


@pytest.mark.parametrize(
    ("attribute", "reason"),
    [
        ({"key": "$where", "label": "X"}, "must start with a letter"),
        ({"key": "a.b", "label": "X"}, "must start with a letter"),
        ({"key": "ok\n", "label": "X"}, "must start with a letter"),
        ({"key": "_id", "label": "X"}, "must start with a letter"),
        ({"key": "createdAt", "label": "X"}, "reserved"),
        ({"key": "email", "label": "Other"}, "appears more than once"),
        ({"key": "age", "label": "Age", "type": "integer"}, "type"),
        ({"key": "age", "label": " "}, "label must not be empty"),
        ({"key": "age", "label": "Age", "multivalue": True}, "Extra inputs are not permitted"),
        (
            {"key": "age", "label": "Age", "type": "number", "channelIdentifier": True},
            "must be of type",
        ),
        (
            {"key": "mail2", "label": "Mail 2", "synonyms": ["E-mail"]},
            "used by both 'email' and 'mail2'",
        ),
    ],
)
def test_invalid_attributes_are_refused_with_a_reason(
    attribute: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        schema_with(attribute)


def test_a_schema_needs_a_channel_identifier() -> None:
    with pytest.raises(ValidationError, match="at least one channel identifier"):
        RecordSchema.model_validate(
            {"recordType": "customers", "attributes": [{"key": "a", "label": "A"}]}
        )


def test_every_example_value_validates() -> None:
    validator = RowValidator(DEFAULT_CUSTOMER_SCHEMA)
    schema = schema_with(
        {"key": "age", "label": "Age", "type": "number"},
        {"key": "vip", "label": "VIP", "type": "boolean"},
        {"key": "since", "label": "Since", "type": "date"},
    )
    for attribute in (*DEFAULT_CUSTOMER_SCHEMA.attributes, *schema.attributes):
        assert validator.normalize_value(attribute, example_value(attribute))[1] is None
