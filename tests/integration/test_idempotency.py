"""Idempotency-Key (DESIGN.md §7) on the four POST routes: the same request again is answered
from memory and does nothing again; another request with the key gets 422; the same request
while the first is answered gets 409 with Retry-After; keys are per API key and expire; two
identical requests sent at the same moment create one import."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from tests.helpers import csv_bytes, import_form, wait_for_job

CONFIG = {"deduplicationKeys": ["email"], "action": "append"}
FILE = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["Bob", "bob@example.com"]])


def key(value: str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": value}


async def test_an_import_sent_again_with_its_key_is_answered_again_and_not_done_again(
    api, database, admin_headers
) -> None:
    first = await api.post(
        "/imports", headers=key("nightly-1", admin_headers), **import_form(FILE, CONFIG)
    )
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await api.post(
        "/imports", headers=key("nightly-1", admin_headers), **import_form(FILE, CONFIG)
    )
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await database["import_jobs"].count_documents({}) == 1
    assert await database["uploads.files"].count_documents({}) == 1
    # Without a key, the same request is a new import.
    plain = await api.post("/imports", headers=admin_headers, **import_form(FILE, CONFIG))
    assert plain.status_code == 202 and plain.json()["id"] != first.json()["id"]


async def test_the_key_with_another_request_is_refused(api, database, admin_headers) -> None:
    headers = key("k-422", admin_headers)
    assert (
        await api.post("/imports", headers=headers, **import_form(FILE, CONFIG))
    ).status_code == 202
    other_file = csv_bytes(["firstName", "email"], [["Cy", "cy@example.com"]])
    for form in (
        import_form(other_file, CONFIG),
        import_form(FILE, {**CONFIG, "action": "ignore"}),
    ):
        refused = await api.post("/imports", headers=headers, **form)
        assert refused.status_code == 422, refused.text
        assert "already used for another request" in refused.json()["detail"]
    # Another path with the same key is another request too.
    bulk = {"action": "append", "deduplicationKeys": ["email"], "customers": [{"firstName": "A"}]}
    refused = await api.post("/customers/bulkCustomers", headers=headers, json=bulk)
    assert refused.status_code == 422
    assert await database["import_jobs"].count_documents({}) == 1


async def test_the_same_request_while_the_first_is_answered_gets_409_with_retry_after(
    api, database, admin_headers
) -> None:
    from api.idempotency import _fingerprint
    from config import get_settings
    from store import auth, idempotency

    body = (
        b'{"action": "append", "deduplicationKeys": ["email"], "customers": [{"firstName": "A"}]}'
    )
    owner = auth.hash_key(os.environ["ADMIN_API_KEY"])[:16]
    fingerprint = _fingerprint("POST", "/customers/bulkCustomers", [body])
    claim = await idempotency.begin(owner, "in-flight", fingerprint, get_settings())
    assert isinstance(claim, idempotency.Claim)
    async with claim.lease:  # a request with the key being answered now, in another process
        busy = await api.post(
            "/customers/bulkCustomers", headers=key("in-flight", admin_headers), content=body
        )
        assert busy.status_code == 409, busy.text
        assert busy.headers["Retry-After"] == str(idempotency.RETRY_AFTER_SECONDS)
        assert "still being answered" in busy.json()["detail"]
        assert await database["customers"].count_documents({}) == 0
        await idempotency.finish(claim, 200, b'{"remembered": true}')
    replayed = await api.post(
        "/customers/bulkCustomers", headers=key("in-flight", admin_headers), content=body
    )
    assert replayed.status_code == 200 and replayed.json() == {"remembered": True}
    assert replayed.headers["Idempotent-Replayed"] == "true"


async def test_a_request_whose_process_died_midway_is_taken_over_by_the_next(
    api, database, admin_headers
) -> None:
    """The first request's API process died after creating its import (its lease ran out,
    nothing was remembered): the next request with the key finds that import, never a
    second one."""
    first = await api.post(
        "/imports", headers=key("died", admin_headers), **import_form(FILE, CONFIG)
    )
    job_id = first.json()["id"]
    # As if the process had died before remembering the answer: in flight, lease run out.
    record = await database["idempotency_keys"].find_one({"state": "done"})
    assert record["resource_id"] == job_id
    await database["idempotency_keys"].update_one(
        {"_id": record["_id"]},
        {
            "$set": {"state": "in_flight", "lease_until": record["created_at"]},
            "$unset": {"body": ""},
        },
    )
    again = await api.post(
        "/imports", headers=key("died", admin_headers), **import_form(FILE, CONFIG)
    )
    assert again.status_code == 202, again.text
    assert again.json()["id"] == job_id
    assert await database["import_jobs"].count_documents({}) == 1
    assert await database["uploads.files"].count_documents({}) == 1


async def test_keys_belong_to_their_api_key_and_expire(api, database, admin_headers) -> None:
    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": "i", "role": "importer"}
    )
    importer = {"Authorization": f"Bearer {created.json()['key']}"}
    mine = await api.post(
        "/imports", headers=key("shared", admin_headers), **import_form(FILE, CONFIG)
    )
    theirs = await api.post(
        "/imports", headers=key("shared", importer), **import_form(FILE, CONFIG)
    )
    assert theirs.status_code == 202 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    # Past IDEMPOTENCY_HOURS the key is forgotten: the request is done again.
    await database["idempotency_keys"].update_many(
        {}, [{"$set": {"expires_at": {"$subtract": ["$created_at", 1000]}}}]
    )
    later = await api.post(
        "/imports", headers=key("shared", admin_headers), **import_form(FILE, CONFIG)
    )
    assert later.status_code == 202 and "Idempotent-Replayed" not in later.headers
    assert later.json()["id"] not in (mine.json()["id"], theirs.json()["id"])
    assert await database["import_jobs"].count_documents({}) == 3


async def test_a_refused_request_is_not_remembered(api, database, admin_headers) -> None:
    headers = key("fix-and-send-again", admin_headers)
    bad = csv_bytes(["email"], [["a@b.co"]])  # no firstName column
    refused = await api.post("/imports", headers=headers, **import_form(bad, CONFIG))
    assert refused.status_code == 422
    assert await database["idempotency_keys"].count_documents({}) == 0
    fixed = await api.post("/imports", headers=headers, **import_form(FILE, CONFIG))
    assert fixed.status_code == 202


@pytest.mark.parametrize(
    "value",
    ["", "x" * 256, "caf\u00e9", "tab\there"],
    ids=["empty", "256 chars", "non-ASCII", "tab"],
)
async def test_an_invalid_key_is_a_400(api, database, admin_headers, value) -> None:
    response = await api.post(
        "/imports",
        headers={**admin_headers, "Idempotency-Key": value.encode()},
        **import_form(FILE, CONFIG),
    )
    assert response.status_code == 400, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert await database["import_jobs"].count_documents({}) == 0


async def test_bulk_retry_and_revert_replay_without_writing_again(
    api, database, admin_headers, worker
) -> None:
    bulk = {
        "action": "append",
        "deduplicationKeys": ["email"],
        "customers": [{"firstName": "Di", "email": "di@example.com", "labels": "a"}],
    }
    first = await api.post("/customers/bulkCustomers", headers=key("b1", admin_headers), json=bulk)
    assert first.json()["insertedCount"] == 1
    customer = await database["customers"].find_one({})
    again = await api.post("/customers/bulkCustomers", headers=key("b1", admin_headers), json=bulk)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert (
        await database["customers"].find_one({}) == customer
    )  # not written again (rev, updatedAt)

    rows = csv_bytes(["firstName", "email"], [["Ed", "ed@example.com"], ["", "bad"]])
    job = (await api.post("/imports", headers=admin_headers, **import_form(rows, CONFIG))).json()
    await wait_for_job(api, job["id"], admin_headers)
    fixed = csv_bytes(["firstName", "email"], [["Flo", "flo@example.com"]])
    form = {"files": {"file": ("fixed.csv", fixed, "text/csv")}}
    retry = await api.post(f"/imports/{job['id']}/retry", headers=key("r1", admin_headers), **form)
    retry_again = await api.post(
        f"/imports/{job['id']}/retry", headers=key("r1", admin_headers), **form
    )
    assert retry.status_code == retry_again.status_code == 202
    assert (
        retry_again.json() == retry.json() and retry_again.headers["Idempotent-Replayed"] == "true"
    )
    assert await database["import_jobs"].count_documents({"retry_of": job["id"]}) == 1

    revert = await api.post(f"/imports/{job['id']}/revert", headers=key("v1", admin_headers))
    revert_again = await api.post(f"/imports/{job['id']}/revert", headers=key("v1", admin_headers))
    assert revert.status_code == revert_again.status_code == 202
    assert (
        revert_again.json() == revert.json()
        and revert_again.headers["Idempotent-Replayed"] == "true"
    )


async def test_identical_requests_at_the_same_moment_create_one_import(
    api_server, sync_db, admin_headers
) -> None:
    """Through a real API process: eight identical requests with one key, sent at once."""
    sync_db["import_jobs"].delete_many({})
    headers = key("burst", admin_headers)
    async with httpx.AsyncClient(base_url=api_server, timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post("/imports", headers=headers, **import_form(FILE, CONFIG))
                for _ in range(8)
            )
        )
    created = [
        a for a in answers if a.status_code == 202 and "Idempotent-Replayed" not in a.headers
    ]
    replayed = [a for a in answers if a.status_code == 202 and "Idempotent-Replayed" in a.headers]
    busy = [a for a in answers if a.status_code == 409]
    assert len(created) == 1, [a.text for a in answers]
    assert len(created) + len(replayed) + len(busy) == len(answers)
    assert all(a.json() == created[0].json() for a in replayed)
    assert all(a.headers["Retry-After"] for a in busy)
    assert sync_db["import_jobs"].count_documents({}) == 1
