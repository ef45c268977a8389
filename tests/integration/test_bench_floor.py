"""bench.floor writes exactly the fewest writes of a case (DESIGN.md §3 on bench.data's rows),
on the real server: what `make bench` compares each case with must be that case's work."""

from __future__ import annotations

import os

import pytest
from pymongo import MongoClient

from bench import data, floor


@pytest.fixture
def floor_database() -> str:
    return f"bcu_test_floor_{os.getpid()}"


def test_all_new_inserts_each_customer_and_a_claim_per_value(floor_database: str) -> None:
    result = floor.run(os.environ["MONGODB_URL"], floor_database, 30, 0, "ignore")
    values = sum(len(p.emails) + len(p.phones) for p in data.people(30))
    assert result.rows == 30
    assert result.writes == {
        "identifier_claims InsertOne": values,
        "customers InsertOne": 30,
    }


def test_replace_of_half_matching_writes_only_the_customers_it_changes(
    floor_database: str,
) -> None:
    result = floor.run(os.environ["MONGODB_URL"], floor_database, 40, 20, "replace")
    new = list(data.people(40))[20:]
    # Of the 20 matching rows, the odd ones moved city and gained a phone; the even ones
    # are the seed's rows again.
    assert result.writes == {
        "identifier_claims InsertOne": sum(len(p.emails) + len(p.phones) for p in new) + 10,
        "customers InsertOne": 20,
        "customers ReplaceOne": 10,
        "import_preimages InsertOne": 10,
    }


@pytest.mark.parametrize("action", ["ignore", "update"])
def test_actions_that_change_no_matching_customer_write_only_the_new_ones(
    floor_database: str, action: str
) -> None:
    result = floor.run(os.environ["MONGODB_URL"], floor_database, 40, 20, action)
    assert result.writes["customers InsertOne"] == 20
    assert "customers ReplaceOne" not in result.writes


def test_the_database_is_dropped_after(floor_database: str) -> None:
    floor.run(os.environ["MONGODB_URL"], floor_database, 10, 10, "append")
    with MongoClient(os.environ["MONGODB_URL"]) as client:
        assert floor_database not in client.list_database_names()
