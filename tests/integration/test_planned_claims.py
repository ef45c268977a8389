"""A batch resolves first with the claims its planning read (ImportBatch.packed_claims)
instead of reading them again. Claims that changed between planning and the batch must not
change the outcome: the batch's conditional claim writes fail, and it reads afresh."""

from __future__ import annotations

from typing import Any

import httpx

from config import get_settings
from store import jobs
from store.documents import unpack
from tests.helpers import RecordingDispatcher, held_import

HEADER = ["firstName", "lastName", "email", "phoneNumber", "city"]
ANN = {"firstName": "Ann", "email": ["ann@example.com"], "phoneNumber": ["+12025550143"]}


async def bulk(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    action: str,
    keys: tuple[str, ...] | list[str] = ("email",),
    **customer: Any,
) -> None:
    body = {"action": action, "deduplicationKeys": list(keys), "customers": [customer]}
    response = await api.post("/customers/bulkCustomers", headers=headers, json=body)
    assert response.status_code == 200, response.text


async def holding(database: Any, email: str) -> list[dict[str, Any]]:
    return await database["customers"].find({"attributes.email": email}).to_list()


async def run_to_the_end(job_id: str, batches: list[str]) -> None:
    """The held import's batches, then its completion: its one row updated a customer."""
    for batch in batches:
        await jobs.process_batch(batch, RecordingDispatcher(), get_settings())
    await jobs.finalize_job(job_id, get_settings())
    job = await jobs.get_job(job_id)
    assert (job.counts.imported, job.counts.updated) == (0, 1)


async def test_planning_keeps_the_claims_of_each_batch(api, database, admin_headers) -> None:
    await bulk(api, admin_headers, "ignore", **ANN)
    [ann] = await holding(database, "ann@example.com")
    rows = [["Ann", "", "ann@example.com", "", "Rome"], ["Zoe", "", "zoe@example.com", "", ""]]
    _, batches = await held_import(HEADER, rows, "replace", batch_size=1)
    planned = {}
    for batch in batches:
        stored = await database["import_batches"].find_one({"_id": batch})
        planned[batch] = unpack(stored["packed_claims"])
    claims = [claim for found in planned.values() for claim in found]
    # Ann's email was held; Zoe's had no claim (nothing kept for it).
    assert [(c["_id"], c["c"]) for c in claims] == [("email:ann@example.com", str(ann["_id"]))]


async def test_a_value_that_changed_hands_after_planning_goes_to_its_holder_now(
    api, database, admin_headers
) -> None:
    await bulk(api, admin_headers, "ignore", **ANN)
    [ann] = await holding(database, "ann@example.com")
    rows = [["Annie", "", "ann@example.com", "", "Rome"]]
    job_id, batches = await held_import(HEADER, rows, "replace")
    [stored] = await database["import_batches"].find({"job_id": job_id}).to_list()
    assert [c["c"] for c in unpack(stored["packed_claims"])] == [str(ann["_id"])]
    # After planning: Ann, matched by her phone, gives her email up, and Zed takes it.
    moved = {**ANN, "email": ["ann.lee@example.com"]}
    await bulk(api, admin_headers, "replace", ["phoneNumber"], **moved)
    await bulk(api, admin_headers, "ignore", firstName="Zed", email=["ann@example.com"])
    [zed] = await holding(database, "ann@example.com")
    assert zed["_id"] != ann["_id"]

    await run_to_the_end(job_id, batches)
    [now] = await holding(database, "ann@example.com")
    assert now["_id"] == zed["_id"]
    assert now["attributes"] == {"firstName": "Annie", "email": ["ann@example.com"], "city": "Rome"}
    ann_now = await database["customers"].find_one({"_id": ann["_id"]})
    assert "city" not in ann_now["attributes"]


async def test_a_value_taken_after_planning_is_not_inserted_twice(
    api, database, admin_headers
) -> None:
    rows = [["Bob", "", "bob@example.com", "", "Rome"]]
    job_id, batches = await held_import(HEADER, rows, "replace")
    await bulk(api, admin_headers, "ignore", firstName="Robert", email=["bob@example.com"])

    await run_to_the_end(job_id, batches)
    [bob] = await holding(database, "bob@example.com")
    assert bob["attributes"]["firstName"] == "Bob" and bob["attributes"]["city"] == "Rome"


async def test_each_claim_goes_to_the_batch_of_the_rows_with_its_value(
    api, database, admin_headers
) -> None:
    """Planning sorts the claims it read into batches by the rows that have their values,
    a claim that names no customer (its writer died before writing one) among them."""
    await bulk(api, admin_headers, "ignore", **ANN)
    [ann] = await holding(database, "ann@example.com")
    await database["identifier_claims"].insert_one(
        {"_id": "email:zoe@example.com", "c": None, "w": "64b7f0000000000000000000-9"}
    )
    rows = [
        ["Zoe", "", "zoe@example.com", "", ""],
        ["Max", "", "max@example.com", "", ""],
        ["Ann", "", "", "+12025550143", "Rome"],
    ]
    _, batches = await held_import(HEADER, rows, "update", batch_size=1)
    planned = []
    for batch in batches:
        stored = await database["import_batches"].find_one({"_id": batch})
        planned.append(sorted((c["_id"], c["c"]) for c in unpack(stored["packed_claims"])))
    # Ann's row has her phone, not her email: only the phone's claim is the batch's.
    assert planned == [
        [("email:zoe@example.com", None)],
        [],
        [("phoneNumber:+12025550143", str(ann["_id"]))],
    ]
