"""Identifier claims against the real database: what a writer that died midway leaves behind
holds no one up once its lease is gone and never lets a value reach two customers; a writer
run again after dying halfway ends exactly as one clean run."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

from bson import ObjectId

from domain.actions import Action
from domain.resolution import BatchResolution, Outcome, RowInput
from store.customers import claims, writers, writing
from store.customers.commit import commit
from store.customers.request import Commit
from store.documents import Customer, utcnow
from tests.helpers import commit_request


async def _resolved(request: Commit) -> BatchResolution:
    return await commit(request)


async def _customers() -> list[dict[str, Any]]:
    docs = Customer.get_pymongo_collection().find({}, {"attributes": 1})
    return sorted(
        [d["attributes"] async for d in docs], key=lambda a: json.dumps(a, sort_keys=True)
    )


async def _dead_writer(database: Any) -> str:
    """A writer whose lease ran out: its process died."""
    writer = writers.new_writer_id()
    await database[writers.COLLECTION].insert_one(
        {"_id": writer, "lease_until": utcnow() - timedelta(seconds=1), "done": False}
    )
    return writer


async def test_value_claimed_by_a_dead_writer_that_never_wrote_is_free(database) -> None:
    dead = await _dead_writer(database)
    never_written = str(ObjectId())
    await claims.collection().insert_one(
        {"_id": "email:ann@example.com", "c": never_written, "w": dead}
    )

    resolution = await _resolved(
        commit_request(
            [RowInput(1, {"firstName": "Ann", "email": ["ann@example.com"]})], Action.IGNORE
        )
    )

    assert [r.outcome for r in resolution.results] == [Outcome.IMPORTED]
    assert await _customers() == [{"firstName": "Ann", "email": ["ann@example.com"]}]
    claim = await claims.collection().find_one({"_id": "email:ann@example.com"})
    assert claim["c"] == resolution.results[0].customer_id


async def test_value_a_dead_writer_was_moving_stays_with_the_customer_holding_it(database) -> None:
    """The dead writer meant to move the email from X to another customer but died before
    writing: X still holds it, so the email still matches X."""
    first = await _resolved(
        commit_request([RowInput(1, {"firstName": "X", "email": ["x@example.com"]})], Action.IGNORE)
    )
    holder = first.results[0].customer_id
    dead = await _dead_writer(database)
    await claims.collection().update_one(
        {"_id": "email:x@example.com"}, {"$set": {"w": dead, "n": str(ObjectId())}}
    )

    resolution = await _resolved(
        commit_request([RowInput(1, {"email": ["x@example.com"], "city": "Oslo"})], Action.APPEND)
    )

    assert [(r.outcome, r.customer_id) for r in resolution.results] == [(Outcome.UPDATED, holder)]
    assert await _customers() == [{"firstName": "X", "email": ["x@example.com"], "city": "Oslo"}]


async def test_a_writer_run_again_after_dying_halfway_ends_as_one_clean_run(
    database, monkeypatch
) -> None:
    """The first run claims and updates, then dies before inserting its new customers; the
    second run (a redelivery) finds its own writes and finishes with the same result."""
    await commit(
        commit_request(
            [RowInput(1, {"firstName": "Old", "email": ["old@example.com"]})], Action.IGNORE
        )
    )
    rows = [
        RowInput(1, {"email": ["old@example.com"], "labels": ["vip"]}),
        RowInput(2, {"firstName": "New", "email": ["new@example.com"]}),
        RowInput(3, {"firstName": "Twin", "email": ["new@example.com"], "city": "Rome"}),
    ]
    writer = writers.new_writer_id()

    async def die(*_: Any, **__: Any) -> None:
        raise ConnectionError("the worker died here")

    monkeypatch.setattr(writing, "_insert", die)
    with contextlib.suppress(ConnectionError):
        await commit(commit_request(rows, Action.APPEND, writer=writer))
    monkeypatch.undo()
    again = await _resolved(commit_request(rows, Action.APPEND, writer=writer, resumed=True))
    twice = await _resolved(commit_request(rows, Action.APPEND, writer=writer, resumed=True))

    assert [r.outcome for r in again.results] == [
        Outcome.UPDATED,
        Outcome.IMPORTED,
        Outcome.UPDATED,
    ]
    assert [r.customer_id for r in twice.results] == [r.customer_id for r in again.results]
    assert await _customers() == [
        {"city": "Rome", "email": ["new@example.com"], "firstName": "Twin"},
        {"email": ["old@example.com"], "firstName": "Old", "labels": ["vip"]},
    ]
    stored = {d["_id"]: d["c"] async for d in claims.collection().find({})}
    by_email = {c["email"][0]: c for c in await _customers()}
    assert set(stored) == {f"email:{email}" for email in by_email}


async def test_customers_are_found_by_identifier_through_their_claim(api, admin_headers) -> None:
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [
            {"firstName": "Ann", "email": "Ann@Example.com", "city": "Oslo"},
            {"firstName": "Bob", "email": "bob@example.com", "city": "Oslo"},
        ],
    }
    assert (
        await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    ).status_code == 200

    found = await api.get("/customers", headers=admin_headers, params={"email": " ANN@example.com"})
    nobody = await api.get("/customers", headers=admin_headers, params={"email": "cy@example.com"})
    both = await api.get("/customers", headers=admin_headers, params={"city": "Oslo"})

    assert [c["firstName"] for c in found.json()["items"]] == ["Ann"]
    assert found.json()["total"] == 1
    assert nobody.json() == {"items": [], "total": 0}
    assert [c["firstName"] for c in both.json()["items"]] == ["Ann", "Bob"]
