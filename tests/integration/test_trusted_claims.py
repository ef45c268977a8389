"""An `ignore` batch takes a planned claim for what it says, without reading the customer it
names, when the claim's writer had finished before planning read it (store.customers.reading):
such a claim said the truth then, and `ignore` writes no customer it matches. A claim whose
writer had not finished by then (it died between claiming and writing, it finished later, or
it ran again since) is checked against the customers, as with every other action."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from pymongo.errors import ConnectionFailure

from config import get_settings
from store import jobs
from store.customers import claims, reading, writers
from store.documents import Role, unpack
from store.principal import Principal
from tests.helpers import RecordingDispatcher, held_import

HEADER = ["firstName", "email", "city"]
ADMIN = Principal("admin", Role.ADMIN, "test")


async def bulk_ignore(api: Any, headers: dict[str, str], *people: tuple[str, str]) -> None:
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [{"firstName": name, "email": [email]} for name, email in people],
    }
    response = await api.post("/customers/bulkCustomers", headers=headers, json=body)
    assert response.status_code == 200, response.text


def recorded_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The customers the batches read, by id."""
    read: list[str] = []
    customers = reading._customers

    async def recording(ids: Any, chunk_size: int) -> Any:
        ids = set(ids)
        read.extend(sorted(ids))
        return await customers(ids, chunk_size)

    monkeypatch.setattr(reading, "_customers", recording)
    return read


async def run_batches(batches: list[str]) -> None:
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())


async def results(database: Any, job_id: str) -> list[tuple[int, str, str | None]]:
    found = []
    async for batch in database["import_batches"].find({"job_id": job_id}):
        found += [
            (r["number"], r["outcome"], r["customer_id"]) for r in unpack(batch["packed_results"])
        ]
    return sorted(found)


async def customer_id(database: Any, email: str) -> str:
    [doc] = await database["customers"].find({"attributes.email": email}).to_list()
    return str(doc["_id"])


@pytest.mark.parametrize("action", ["ignore", "update"])
async def test_only_an_ignore_batch_resolves_against_finished_claims_without_reading(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    await bulk_ignore(api, admin_headers, ("Ann", "ann@example.com"), ("Bob", "bob@example.com"))
    ann, bob = [await customer_id(database, e) for e in ("ann@example.com", "bob@example.com")]
    rows = [
        ["Ann", "ann@example.com", ""],
        ["Cy", "cy@example.com", ""],
        ["Bob", "bob@example.com", ""],
    ]
    job_id, batches = await held_import(HEADER, rows, action, batch_size=10)
    read = recorded_reads(monkeypatch)

    await run_batches(batches)

    found = await results(database, job_id)
    cy = await customer_id(database, "cy@example.com")
    if action == "ignore":
        assert read == []
        assert found == [(1, "ignored", ann), (2, "imported", cy), (3, "ignored", bob)]
    else:  # update reads what it changes: fills only empty fields, so it needs them whole
        assert read == sorted([ann, bob])
        assert found == [(1, "updated", ann), (2, "imported", cy), (3, "updated", bob)]
    owners = {c["_id"]: c["c"] async for c in database["identifier_claims"].find()}
    assert owners == {
        "email:ann@example.com": ann,
        "email:bob@example.com": bob,
        "email:cy@example.com": cy,
    }


async def test_a_claim_whose_writer_died_before_writing_its_customer_is_checked(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim names a customer that was never written: the value is free."""
    never_written = str(ObjectId())
    dead = f"{ObjectId()}-3"
    await database["identifier_claims"].insert_one(
        {"_id": "email:zoe@example.com", "c": never_written, "w": dead}
    )
    await writers.hold(dead, 60.0)
    await writers.release(dead)  # its process died: no lease, never done
    job_id, batches = await held_import(HEADER, [["Zoe", "zoe@example.com", ""]], "ignore")
    read = recorded_reads(monkeypatch)

    await run_batches(batches)

    assert read == [never_written]
    zoe = await customer_id(database, "zoe@example.com")
    assert await results(database, job_id) == [(1, "imported", zoe)]
    claim = await database["identifier_claims"].find_one({"_id": "email:zoe@example.com"})
    assert claim["c"] == zoe


@pytest.mark.parametrize("since_planning", ["finished", "ran again"])
async def test_a_claim_whose_writer_was_not_finished_when_planning_read_it_is_checked(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch, since_planning: str
) -> None:
    await bulk_ignore(api, admin_headers, ("Ann", "ann@example.com"))
    ann = await customer_id(database, "ann@example.com")
    writer = f"{ObjectId()}-1"
    await database["identifier_claims"].update_one(
        {"_id": "email:ann@example.com"}, {"$set": {"w": writer}}
    )
    if since_planning == "ran again":
        await writers.finish(writer)
    job_id, batches = await held_import(HEADER, [["Ann", "ann@example.com", ""]], "ignore")
    if since_planning == "ran again":
        await writers.hold(writer, 60.0)  # a redelivery of it, which gave way (released)
        await writers.release(writer)
    else:
        await writers.finish(writer)
    read = recorded_reads(monkeypatch)

    await run_batches(batches)

    assert read == [ann]
    assert await results(database, job_id) == [(1, "ignored", ann)]


async def test_a_finished_claim_read_by_planning_is_what_it_said_then(
    api, database, admin_headers
) -> None:
    """The customer an ignored row names is the one holding its value when planning read the
    claims; a value a row takes is claimed by a write that fails if it is taken meanwhile."""
    await bulk_ignore(api, admin_headers, ("Ann", "ann@example.com"))
    ann = await customer_id(database, "ann@example.com")
    rows = [["Ann", "ann@example.com", ""], ["Dan", "dan@example.com", ""]]
    job_id, batches = await held_import(HEADER, rows, "ignore", batch_size=10)
    # After planning: someone else becomes Dan.
    await bulk_ignore(api, admin_headers, ("Daniel", "dan@example.com"))
    dan = await customer_id(database, "dan@example.com")

    await run_batches(batches)

    assert await results(database, job_id) == [(1, "ignored", ann), (2, "ignored", dan)]
    assert await database["customers"].count_documents({}) == 2


async def test_the_claims_of_an_import_being_reverted_are_checked(
    database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revert deletes the customers its import inserted, then releases their values: one
    that dies in between leaves their claims naming customers that are gone."""
    seeding, batches = await held_import(HEADER, [["Ann", "ann@example.com", ""]], "ignore")
    await run_batches(batches)
    await jobs.finalize_job(seeding, get_settings())
    ann = await customer_id(database, "ann@example.com")
    real = claims.collection

    class DiesBeforeReleasing:
        def __getattr__(self, name: str) -> Any:
            return getattr(real(), name)

        async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionFailure("the worker died")

    with monkeypatch.context() as dying:
        dying.setattr(claims, "collection", DiesBeforeReleasing)
        revert = await jobs.start_revert(seeding, ADMIN, RecordingDispatcher())
        with pytest.raises(ConnectionFailure):
            await jobs.run_revert(str(revert.id), get_settings())
    await writers.release(f"{revert.id}-revert")  # its lease ran out
    assert await database["customers"].count_documents({}) == 0
    claim = await database["identifier_claims"].find_one({"_id": "email:ann@example.com"})
    assert claim["c"] == ann  # not released
    job_id, batches = await held_import(HEADER, [["Ann", "ann@example.com", "Rome"]], "ignore")
    read = recorded_reads(monkeypatch)

    await run_batches(batches)

    assert read == [ann]
    again = await customer_id(database, "ann@example.com")
    assert await results(database, job_id) == [(1, "imported", again)]


async def test_after_a_change_of_the_schema_s_identifiers_the_claims_are_checked(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change that removes or reshapes an identifier moves the customers' values before it
    releases their claims."""
    await bulk_ignore(api, admin_headers, ("Ann", "ann@example.com"))
    ann = await customer_id(database, "ann@example.com")
    job_id, batches = await held_import(HEADER, [["Ann", "ann@example.com", ""]], "ignore")
    schema = "/record-types/customers/schema"
    attributes = (await api.get(schema, headers=admin_headers)).json()["attributes"]
    assert any(a["key"] == "telegram" and a["channelIdentifier"] for a in attributes)
    unflagged = [
        {**a, "channelIdentifier": False} if a["key"] == "telegram" else a for a in attributes
    ]
    changed = await api.put(schema, headers=admin_headers, json={"attributes": unflagged})
    assert changed.status_code == 200, changed.text
    read = recorded_reads(monkeypatch)

    await run_batches(batches)

    assert read == [ann]
    assert await results(database, job_id) == [(1, "ignored", ann)]
