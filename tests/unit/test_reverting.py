"""What a revert does with each customer, from the customer as it is now."""

from __future__ import annotations

from domain.reverting import Judgement, Verdict, judge_changed, judge_inserted

IMPORT = "6b0eba3e4235c66b3a681a12"
BEFORE = {"_id": 1, "attributes": {"firstName": "Ann"}, "rev": 3, "written_by": "other"}
AS_LEFT = {"_id": 1, "attributes": {"firstName": "Anne"}, "rev": 4, "written_by": IMPORT}


def test_a_customer_as_the_import_left_it_is_restored() -> None:
    assert judge_changed(AS_LEFT, BEFORE, 4, IMPORT) == Judgement(Verdict.RESTORE)


def test_a_customer_back_at_its_pre_image_counts_as_restored() -> None:
    assert judge_changed(dict(BEFORE), BEFORE, 4, IMPORT) == Judgement(Verdict.RESTORED)


def test_a_customer_changed_since_is_a_conflict_saying_by_whom() -> None:
    by_bulk = {**AS_LEFT, "rev": 5, "written_by": "6b0eba3e4235c66b3a681a13-bulk"}
    by_import = {**AS_LEFT, "rev": 5, "written_by": "6b0eba3e4235c66b3a681a14"}
    by_hand = {**AS_LEFT, "rev": 5, "written_by": None}
    same_rev_other_writer = {**AS_LEFT, "written_by": "6b0eba3e4235c66b3a681a14"}
    reasons = [
        judge_changed(c, BEFORE, 4, IMPORT)
        for c in (by_bulk, by_import, by_hand, same_rev_other_writer)
    ]
    assert all(r.verdict is Verdict.CONFLICT for r in reasons)
    assert [r.reason for r in reasons] == [
        "Changed after the import (by a bulk request); kept as it is",
        "Changed after the import (by import 6b0eba3e4235c66b3a681a14); kept as it is",
        "Changed after the import (outside the imports); kept as it is",
        "Changed after the import (by import 6b0eba3e4235c66b3a681a14); kept as it is",
    ]
    assert judge_changed(None, BEFORE, 4, IMPORT).reason == "Deleted after the import"


def test_an_inserted_customer_is_deleted_only_as_the_import_left_it() -> None:
    inserted = {"_id": 2, "attributes": {}, "rev": 1, "written_by": IMPORT}
    assert judge_inserted(inserted, 1, IMPORT).verdict is Verdict.DELETE
    assert judge_inserted({**inserted, "rev": 2}, 1, IMPORT).verdict is Verdict.CONFLICT
    assert judge_inserted({**inserted, "rev": 2}, 2, IMPORT).verdict is Verdict.DELETE
