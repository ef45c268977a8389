"""The mapping table's words: which columns are highlighted for the choice made now, and why
a suggestion was made, without jargon."""

from __future__ import annotations

from ui.mapping_table import Attribute, column_flag, suggestion_words

WEAK = {"column": "mob", "field": "phoneNumber", "method": "fuzzy", "confidence": 0.55}
STRONG = {"column": "email", "field": "email", "method": "exact", "confidence": 1.0}
NONE = {"column": "x", "field": None, "method": "none", "confidence": 0.0}
BAR = 0.75  # the API's confidenceBar


def test_the_highlight_follows_the_current_choice() -> None:
    assert column_flag(NONE, None, BAR) == "unmapped"
    assert column_flag(NONE, "city", BAR) is None  # mapped by hand: no longer flagged
    assert column_flag(STRONG, None, BAR) == "unmapped"  # set to "do not import"
    assert column_flag(WEAK, "phoneNumber", BAR) == "low confidence"
    assert column_flag(WEAK, "whatsapp", BAR) is None  # a person's own choice
    assert column_flag(STRONG, "email", BAR) is None


def test_suggestions_are_explained_in_plain_words() -> None:
    assert suggestion_words(NONE) == "No suggestion"
    assert suggestion_words(WEAK) == "Similar name, 55% sure"
    assert suggestion_words(STRONG) == "Same name, 100% sure"
    remembered = {**STRONG, "method": "remembered"}
    assert suggestion_words(remembered) == "Chosen before for these columns, 100% sure"


def test_mandatory_attributes_say_so_in_the_drop_down() -> None:
    assert Attribute("firstName", "First Name", True, False).choice == (
        "First Name (firstName) · required"
    )
    assert Attribute("city", "City", False, False).choice == "City (city)"
