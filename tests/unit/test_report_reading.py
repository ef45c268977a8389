"""ui.report_reading: a conflict's reason names the customer holding the value, and the status
page links to that customer."""

from __future__ import annotations

from ui.report_reading import holder_of


def test_a_conflict_names_its_holder() -> None:
    reason = (
        "Phone Number '+12025550143' already belongs to another customer "
        "(id 6b12d8d15f7e2cd5540061d0)"
    )
    assert holder_of(reason) == "6b12d8d15f7e2cd5540061d0"
    assert holder_of(f"Invalid email format; {reason}") == "6b12d8d15f7e2cd5540061d0"


def test_other_reasons_name_no_one() -> None:
    assert holder_of("Invalid email format: 'x@'") is None
    assert holder_of("Ignored - duplicate found") is None
    assert holder_of("belongs to another customer (id not-an-id)") is None
