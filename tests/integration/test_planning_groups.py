"""Planning puts rows that reach one existing customer through different identifier values
in one batch (so they apply in file order), whether it reads the claims by lookups (a big
customer base) or by one scan (a small one); either runs beside the reading of the file."""

from __future__ import annotations

import io

import pytest

from config import get_settings
from domain.import_config import ImportConfig
from store import jobs
from store.documents import ImportBatch
from store.jobs import holders
from tests.helpers import RecordingDispatcher, csv_bytes, seed_customers_sync

ROWS = [
    ["Ann", "x@example.com", ""],
    ["Bob", "", "+12025550143"],  # x's phone: x again, by another value
    ["Cid", "y@example.com", ""],
    ["Dan", "z@example.com", ""],
    ["Eve", "", "+14155550132"],  # y's phone
]


@pytest.mark.parametrize(
    ("others", "lookup_values", "uncounted_seconds", "read_by"),
    [
        (0, holders.LOOKUP_VALUES, 0, "scan"),
        (3000, holders.LOOKUP_VALUES, 0, "lookups"),
        (3000, 1, 0, "lookups"),
        (0, holders.LOOKUP_VALUES, holders.UNCOUNTED_LOOKUP_SECONDS, "lookups"),
    ],
    # The third: a lookup after each row. The last: a small file is looked up without
    # counting the claims first, though a count would have chosen the scan.
    ids=["scan", "lookups", "lookups-while-reading", "small-file-uncounted"],
)
async def test_rows_reaching_one_customer_share_a_batch(
    database, sync_db, others, lookup_values, uncounted_seconds, read_by, monkeypatch
) -> None:
    monkeypatch.setattr(holders, "LOOKUP_VALUES", lookup_values)
    monkeypatch.setattr(holders, "UNCOUNTED_LOOKUP_SECONDS", uncounted_seconds)
    reads: list[str] = []
    scan_all, look_up = holders.HolderLinks._scan_all, holders.HolderLinks._look_up

    async def scan(self: holders.HolderLinks) -> None:
        reads.append("scan")
        await scan_all(self)

    async def lookups(self: holders.HolderLinks, values: set[tuple[str, str]]) -> None:
        reads.append("lookups")
        await look_up(self, values)

    monkeypatch.setattr(holders.HolderLinks, "_scan_all", scan)
    monkeypatch.setattr(holders.HolderLinks, "_look_up", lookups)
    seed_customers_sync(
        sync_db,
        [
            {"firstName": "X", "email": ["x@example.com"], "phoneNumber": ["+12025550143"]},
            {"firstName": "Y", "email": ["y@example.com"], "phoneNumber": ["+14155550132"]},
            *({"firstName": "O", "email": [f"o{n}@example.com"]} for n in range(others)),
        ],
    )
    content = csv_bytes(["firstName", "email", "phoneNumber"], ROWS)
    config = {"deduplicationKeys": ["email", "phoneNumber"], "action": "append", "batchSize": 1}
    dispatcher = RecordingDispatcher()
    job = await jobs.create_job(
        io.BytesIO(content),
        "f.csv",
        ImportConfig.model_validate(config),
        "t",
        dispatcher,
        get_settings(),
    )
    await jobs.plan_job(str(job.id), dispatcher, get_settings())

    batches = await ImportBatch.find(ImportBatch.job_id == str(job.id)).sort("seq").to_list()
    assert [[row.number for row in b.rows] for b in batches] == [[1, 2], [3, 5], [4]]
    assert set(reads) == {read_by}
