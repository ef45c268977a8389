"""A batch's first run takes the claims of its rows' values without reading them first when
few of its rows reached existing customers at planning (store.jobs.batches). When some of
those values are held, it then reads what it needs: the customers that hold them, never the
customers it is about to insert (in a first run they cannot exist yet)."""

from __future__ import annotations

from typing import Any

import pytest

from config import get_settings
from store import jobs
from store.customers import reading
from tests.helpers import RecordingDispatcher, held_import

HEADER = ["firstName", "email", "city"]


async def test_a_batch_of_new_rows_with_one_held_value_reads_only_its_holder(
    api, database, admin_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [{"firstName": "Ann", "email": ["ann@example.com"]}],
    }
    response = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    assert response.status_code == 200, response.text
    [ann] = await database["customers"].find().to_list()
    rows = [["Ann", "ann@example.com", "Rome"]]
    rows += [[f"P{n}", f"p{n}@example.com", ""] for n in range(19)]
    job_id, [batch] = await held_import(HEADER, rows, "update", batch_size=20)
    read: list[str] = []
    customers = reading._customers

    async def recorded(ids: Any, chunk_size: int) -> Any:
        ids = set(ids)
        read.extend(ids)
        return await customers(ids, chunk_size)

    monkeypatch.setattr(reading, "_customers", recorded)
    await jobs.process_batch(batch, RecordingDispatcher(), get_settings())

    assert read == [str(ann["_id"])]
    job = await jobs.get_job(job_id)
    assert (job.counts.imported, job.counts.updated, job.counts.failed) == (19, 1, 0)
    assert await database["customers"].count_documents({}) == 20
    ann = await database["customers"].find_one({"_id": ann["_id"]})
    assert ann["attributes"]["city"] == "Rome"
    owners = {c["_id"]: c["c"] async for c in database["identifier_claims"].find()}
    assert len(owners) == 20 and owners["email:ann@example.com"] == str(ann["_id"])
