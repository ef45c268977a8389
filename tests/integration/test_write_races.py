"""The two races a batch can lose, made to happen for certain against the real database: a
lookup that misses a customer another import inserts just after it, and a customer changed
by another import between our read and our write. Both end as if the batch had run after
the other writer, never as a failure or a duplicate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from config import get_settings
from domain.actions import Action
from domain.resolution import BatchResolution, Outcome, RowInput
from store.customers import reading, writing
from store.customers.commit import commit
from store.customers.request import Commit
from store.documents import Customer
from tests.helpers import commit_request


async def _other_writer(profile: dict[str, Any], action: Action) -> None:
    """Another import's write, through the same store code."""
    await commit(commit_request([RowInput(1, profile)], action))


def _once_before(original: Callable[..., Awaitable[Any]], other: Callable[[], Awaitable[None]]):  # type: ignore[no-untyped-def]
    """`original`, with `other` run just before its first call."""
    calls = {"n": 0}

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            await other()
        return await original(*args, **kwargs)

    wrapped.calls = calls  # type: ignore[attr-defined]
    return wrapped


def _once_after(original: Callable[..., Awaitable[Any]], other: Callable[[], Awaitable[None]]):  # type: ignore[no-untyped-def]
    """`original`, with `other` run just after its first call (its answer then is stale)."""
    calls = {"n": 0}

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        answer = await original(*args, **kwargs)
        if calls["n"] == 1:
            await other()
        return answer

    wrapped.calls = calls  # type: ignore[attr-defined]
    return wrapped


async def _resolved(request: Commit) -> BatchResolution:
    return await commit(request)


async def _all_customers() -> list[dict[str, Any]]:
    return [
        d["attributes"] async for d in Customer.get_pymongo_collection().find({}, {"attributes": 1})
    ]


async def test_value_another_writer_takes_first_makes_the_row_a_duplicate(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our row finds no one holding its email; another import inserts a customer with it
    just before we claim it: the claim is refused, and the row is resolved again."""

    async def other_import_inserts() -> None:
        await _other_writer({"email": ["ann@example.com"], "city": "Oslo"}, Action.IGNORE)

    claim = _once_before(writing._claim, other_import_inserts)
    monkeypatch.setattr(writing, "_claim", claim)

    resolution = await _resolved(
        commit_request(
            [RowInput(1, {"email": ["ann@example.com"], "firstName": "Ann"})], Action.UPDATE
        )
    )

    assert claim.calls["n"] >= 2  # refused once, then claimed nothing new (a duplicate)
    assert [r.outcome for r in resolution.results] == [Outcome.UPDATED]
    assert await _all_customers() == [
        {"email": ["ann@example.com"], "city": "Oslo", "firstName": "Ann"}
    ]


async def test_customer_changed_since_it_was_read_is_resolved_again(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _other_writer({"email": ["bob@example.com"], "labels": ["a"]}, Action.IGNORE)

    async def other_import_appends() -> None:
        await _other_writer({"email": ["bob@example.com"], "labels": ["b"]}, Action.APPEND)

    read = _once_after(reading._customers, other_import_appends)
    monkeypatch.setattr(reading, "_customers", read)

    resolution = await _resolved(
        commit_request(
            [RowInput(1, {"email": ["bob@example.com"], "labels": ["c"]})], Action.APPEND
        )
    )

    assert read.calls["n"] >= 3  # ours (stale), the other writer's, ours again
    assert [r.outcome for r in resolution.results] == [Outcome.UPDATED]
    # Both appends survive: ours was applied on top of the other writer's, not over it.
    assert await _all_customers() == [{"email": ["bob@example.com"], "labels": ["a", "b", "c"]}]


async def test_bulk_request_that_loses_every_race_is_refused_whole(
    api, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer changes the customer after every read of ours: the request ends with a
    clear 409 (in words, with Retry-After, no internal ids) once it has waited
    BULK_WAIT_SECONDS, and writes nothing, rather than a 500 or half a request."""
    monkeypatch.setattr(get_settings(), "bulk_wait_seconds", 1.0)
    await _other_writer({"email": ["cy@example.com"]}, Action.IGNORE)
    real_customers = reading._customers

    async def always_stale(*args: Any, **kwargs: Any) -> Any:
        found = await real_customers(*args, **kwargs)
        await Customer.get_pymongo_collection().update_many({}, {"$inc": {"rev": 1}})
        return found

    monkeypatch.setattr(reading, "_customers", always_stale)
    response = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={
            "action": "update",
            "deduplicationKeys": ["email"],
            "customers": [
                {"firstName": "Cy", "email": "cy@example.com", "city": "Lima"},
                {"firstName": "Nu", "email": "new@example.com"},
            ],
        },
    )

    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        "Other requests or imports are writing some of the same customers right now, and "
        "still were after 1 s of waiting; send this request again in 5 s"
    )
    assert response.headers["retry-after"] == "5"
    assert await _all_customers() == [{"email": ["cy@example.com"]}]
    monkeypatch.undo()
    # What the refused request had claimed holds no one up: the value is free at once.
    body = await _bulk(api, admin_headers, [{"firstName": "Nu", "email": "new@example.com"}])
    assert body["insertedCount"] == 1, body


async def _bulk(api: Any, headers: dict[str, str], customers_: list[dict[str, Any]]) -> Any:
    response = await api.post(
        "/customers/bulkCustomers",
        headers=headers,
        json={"action": "replace", "deduplicationKeys": ["email"], "customers": customers_},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_value_a_row_takes_from_a_customer_can_go_to_a_later_row(api, admin_headers) -> None:
    """Found by the reference-model test: row 1 replaces a customer, dropping an email that
    row 2 then gives to a new customer. The batch must free it before inserting."""
    await _bulk(api, admin_headers, [{"firstName": "Old", "email": "d@example.com|a@example.com"}])

    body = await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "Bob", "email": "a@example.com"},
            {"firstName": "Ann", "email": "d@example.com"},
        ],
    )

    assert (body["updatedCount"], body["insertedCount"], body["rejectedCount"]) == (1, 1, 0)
    assert sorted(await _all_customers(), key=repr) == [
        {"firstName": "Ann", "email": ["d@example.com"]},
        {"firstName": "Bob", "email": ["a@example.com"]},
    ]


async def test_value_can_move_between_two_existing_customers(api, admin_headers) -> None:
    await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "X", "email": "x@example.com", "phoneNumber": "+12025550143"},
            {"firstName": "Y", "email": "y@example.com", "phoneNumber": "+14155550132"},
        ],
    )

    body = await _bulk(
        api,
        admin_headers,
        [
            {"firstName": "Y", "email": "y@example.com", "phoneNumber": "+13125550199"},
            {"firstName": "X", "email": "x@example.com", "phoneNumber": "+14155550132"},
        ],
    )

    assert (body["updatedCount"], body["rejectedCount"]) == (2, 0), body
    assert sorted(await _all_customers(), key=repr) == [
        {"firstName": "X", "email": ["x@example.com"], "phoneNumber": ["+14155550132"]},
        {"firstName": "Y", "email": ["y@example.com"], "phoneNumber": ["+13125550199"]},
    ]


async def test_a_batch_run_again_after_its_writes_reports_the_same_changes(database) -> None:
    """A batch whose worker died after writing, delivered again, resolves from the customers'
    pre-images: the same outcomes and the same field changes, not "nothing changed"."""
    from bson import ObjectId

    ann = {"firstName": "Ann", "email": ["ann@example.com"]}
    await commit(commit_request([RowInput(1, ann)], Action.IGNORE))  # Ann exists, claims too
    import_id = str(ObjectId())
    writer = f"{import_id}-000000"
    rows = [RowInput(1, {**ann, "city": "Paris"})]
    first = await commit(commit_request(rows, Action.UPDATE, writer=writer, import_id=import_id))
    again = await commit(
        commit_request(rows, Action.UPDATE, writer=writer, import_id=import_id, resumed=True)
    )
    changes = [("city", None, "Paris")]
    assert [list(r.changes) for r in first.results] == [changes]
    assert [list(r.changes) for r in again.results] == [changes]
    assert [r.outcome for r in again.results] == [Outcome.UPDATED]
    stored = await database["customers"].find_one({"attributes.email": "ann@example.com"})
    assert stored["attributes"] == {**ann, "city": "Paris"}
