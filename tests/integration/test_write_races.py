"""The two races a batch can lose, made to happen for certain against the real database: a
lookup that misses a customer another import inserts just after it, and a customer changed
by another import between our read and our write. Both end as if the batch had run after
the other writer, never as a failure or a duplicate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from domain.actions import Action
from domain.resolution import CustomerState, IdentifierValue, Outcome, RowInput
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from store import customers
from store.documents import Customer


class LookupAtTheWrongMoment:
    """`find_owners` as it would answer if it ran just before another writer committed:
    the first call sees the database as it was before `other_writer`, which then runs."""

    def __init__(self, before: list[CustomerState], other_writer: Any) -> None:
        self.before = before
        self.other_writer = other_writer
        self.calls = 0

    async def __call__(
        self, identifiers: Iterable[IdentifierValue], chunk_size: int, session: Any = None
    ) -> list[CustomerState]:
        self.calls += 1
        if self.calls == 1:
            await self.other_writer()
            return self.before
        return await REAL_FIND_OWNERS(identifiers, chunk_size, session)


REAL_FIND_OWNERS = customers.find_owners


async def _resolve(rows: list[RowInput], action: Action) -> Any:
    return await customers.resolve_and_commit(
        rows,
        action=action,
        deduplication_keys=["email"],
        schema=DEFAULT_CUSTOMER_SCHEMA,
        dry_run=False,
        lookup_chunk_size=50,
    )


async def _all_customers() -> list[dict[str, Any]]:
    return [
        d["attributes"] async for d in Customer.get_pymongo_collection().find({}, {"attributes": 1})
    ]


async def test_insert_that_hits_a_duplicate_key_is_handled_as_a_duplicate(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def other_import_inserts() -> None:
        await Customer.get_pymongo_collection().insert_one(
            {"attributes": {"email": ["ann@example.com"], "city": "Oslo"}, "rev": 1}
        )

    lookup = LookupAtTheWrongMoment([], other_import_inserts)
    monkeypatch.setattr(customers, "find_owners", lookup)
    row = RowInput(1, {"email": ["ann@example.com"], "firstName": "Ann"})

    resolution = await _resolve([row], Action.UPDATE)

    assert lookup.calls == 2  # the insert failed on the unique index and the row was resolved again
    assert [r.outcome for r in resolution.results] == [Outcome.UPDATED]
    assert await _all_customers() == [
        {"email": ["ann@example.com"], "city": "Oslo", "firstName": "Ann"}
    ]


async def test_customer_changed_since_it_was_read_is_resolved_again(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserted = await Customer.get_pymongo_collection().insert_one(
        {"attributes": {"email": ["bob@example.com"], "labels": ["a"]}, "rev": 1}
    )
    stale = [
        CustomerState(
            str(inserted.inserted_id), {"email": ["bob@example.com"], "labels": ["a"]}, rev=1
        )
    ]

    async def other_import_appends() -> None:
        await Customer.get_pymongo_collection().update_one(
            {"_id": inserted.inserted_id}, {"$push": {"attributes.labels": "b"}, "$inc": {"rev": 1}}
        )

    lookup = LookupAtTheWrongMoment(stale, other_import_appends)
    monkeypatch.setattr(customers, "find_owners", lookup)
    row = RowInput(1, {"email": ["bob@example.com"], "labels": ["c"]})

    resolution = await _resolve([row], Action.APPEND)

    assert lookup.calls == 2
    assert [r.outcome for r in resolution.results] == [Outcome.UPDATED]
    # Both appends survive: ours was applied on top of the other writer's, not over it.
    assert await _all_customers() == [{"email": ["bob@example.com"], "labels": ["a", "b", "c"]}]


async def test_bulk_request_that_loses_every_race_is_refused_whole(
    api, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that is stale on every attempt (another writer always gets in first):
    the request ends with a clear 409 and writes nothing, rather than a 500 or half a batch."""
    inserted = await Customer.get_pymongo_collection().insert_one(
        {"attributes": {"email": ["cy@example.com"]}, "rev": 1}
    )

    async def always_stale(*_: Any, **__: Any) -> list[CustomerState]:
        await Customer.get_pymongo_collection().update_one(
            {"_id": inserted.inserted_id}, {"$inc": {"rev": 1}}
        )
        return [CustomerState(str(inserted.inserted_id), {"email": ["cy@example.com"]}, rev=1)]

    monkeypatch.setattr(customers, "find_owners", always_stale)
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
    assert "Other writers kept changing the same customers" in response.json()["detail"]
    assert await _all_customers() == [{"email": ["cy@example.com"]}]


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
