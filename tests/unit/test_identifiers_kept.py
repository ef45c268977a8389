"""Which identifier values a batch must free before it writes (pure)."""

from __future__ import annotations

from domain.resolution import identifiers_kept

KEYS = ["email", "phoneNumber"]


def test_nothing_to_free_when_every_value_stays() -> None:
    original = {"email": ["a@x.com"], "phoneNumber": ["+12025550143"]}
    final = {"email": ["a@x.com", "b@x.com"], "phoneNumber": ["+12025550143"], "city": "Oslo"}
    assert identifiers_kept(original, final, KEYS) == {}


def test_dropped_values_are_freed_and_the_rest_kept() -> None:
    original = {"email": ["d@x.com", "a@x.com"], "phoneNumber": ["+12025550143"]}
    final = {"email": ["a@x.com"]}
    assert identifiers_kept(original, final, KEYS) == {"email": ["a@x.com"], "phoneNumber": None}


def test_single_value_identifier_replaced_is_freed_whole() -> None:
    assert identifiers_kept({"email": "a@x.com"}, {"email": "b@x.com"}, ["email"]) == {
        "email": None
    }


def test_attributes_that_are_not_identifiers_are_ignored() -> None:
    assert identifiers_kept({"city": "Oslo"}, {}, KEYS) == {}
