"""Which claim writes a writer plans for each way a value's holder can change (no I/O: the
plan is a list of pymongo operations)."""

from __future__ import annotations

from typing import Any

from pymongo import DeleteOne, UpdateOne

from store.customers.claims import Claim, ClaimWrites, plan_writes

ME = "me-writer"
ANN = ("email", "ann@example.com")
ANN_ID = "email:ann@example.com"


def _plan(
    claims: dict[Any, Claim],
    before: dict[Any, str],
    after: dict[Any, str],
    *,
    probe: bool = False,
) -> ClaimWrites:
    return plan_writes(ME, [ANN], claims, before, after, probe=probe)


def test_a_value_no_one_holds_is_claimed_for_its_new_holder_at_once() -> None:
    plan = _plan({}, {}, {ANN: "y"})
    assert plan.inserts == [{"_id": ANN_ID, "c": "y", "w": ME}]
    assert plan.updates == [] and plan.after == []


def test_a_value_moving_between_customers_names_both_until_settled() -> None:
    plan = _plan({ANN: Claim("x", None, "old-writer")}, {ANN: "x"}, {ANN: "y"})
    assert plan.inserts == []
    assert plan.updates == [
        UpdateOne(
            {"_id": ANN_ID, "w": "old-writer", "c": "x"},
            {"$set": {"c": "x", "n": "y", "w": ME}},
        )
    ]
    assert plan.after == [
        UpdateOne({"_id": ANN_ID, "w": ME}, {"$set": {"c": "y"}, "$unset": {"n": ""}})
    ]


def test_a_value_its_customer_drops_is_released_after_the_write() -> None:
    plan = _plan({ANN: Claim("x", None, None)}, {ANN: "x"}, {})
    assert plan.updates == [
        UpdateOne({"_id": ANN_ID, "w": None, "c": "x"}, {"$set": {"c": "x", "n": None, "w": ME}})
    ]
    assert plan.after == [DeleteOne({"_id": ANN_ID, "w": ME})]


def test_a_value_that_stays_where_its_claim_says_needs_nothing() -> None:
    plan = _plan({ANN: Claim("x", None, "old-writer")}, {ANN: "x"}, {ANN: "x"})
    assert (plan.inserts, plan.updates, plan.after) == ([], [], [])


def test_a_held_value_without_claim_gets_one() -> None:
    plan = _plan({}, {ANN: "x"}, {ANN: "x"})
    assert plan.inserts == [{"_id": ANN_ID, "c": "x", "w": ME}]
    assert plan.after == []


def test_a_stale_claim_of_a_value_no_one_holds_is_taken_over() -> None:
    plan = _plan({ANN: Claim("gone", None, "dead-writer")}, {}, {ANN: "y"})
    assert plan.updates == [
        UpdateOne(
            {"_id": ANN_ID, "w": "dead-writer", "c": "gone"},
            {"$set": {"c": "y", "w": ME}, "$unset": {"n": ""}},
        )
    ]


def test_own_claim_for_the_same_new_holder_is_kept_as_it_is() -> None:
    plan = _plan({ANN: Claim("y", None, ME)}, {}, {ANN: "y"})
    assert (plan.inserts, plan.updates, plan.after) == ([], [], [])


def test_own_claim_no_longer_needed_is_released() -> None:
    plan = _plan({ANN: Claim("y", None, ME)}, {}, {})
    assert plan.after == [DeleteOne({"_id": ANN_ID, "w": ME})]


def test_a_probe_claims_a_value_no_one_will_hold_then_lets_it_go() -> None:
    plan = _plan({}, {}, {}, probe=True)
    assert plan.inserts == [{"_id": ANN_ID, "c": None, "w": ME}]
    assert plan.after == [DeleteOne({"_id": ANN_ID, "w": ME})]
    assert _plan({}, {}, {}).inserts == []  # without a probe, nothing


def test_inserts_come_first_so_a_write_index_names_its_claim() -> None:
    other = ("email", "bob@example.com")
    plan = plan_writes(
        ME, [ANN, other], {other: Claim("x", None, None)}, {other: "x"}, {ANN: "y", other: "y"}
    )
    assert [type(w).__name__ for w in plan.before] == ["InsertOne", "UpdateOne"]
