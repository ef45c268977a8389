"""An accepted file's rows are all counted when it is accepted (the job's totalRows before
planning, and the MAX_ROWS limit), however many the mapping preview's sample read first."""

from __future__ import annotations

import io

import pytest

from config import get_settings
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from store import jobs
from tests.helpers import RecordingDispatcher, csv_bytes, import_form

ROWS = [[f"N{n}", f"n{n}@example.com" if n % 7 else "bad"] for n in range(45)]


async def test_every_row_is_counted_before_planning(api, database, admin_headers) -> None:
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    content = csv_bytes(["firstName", "email"], ROWS)
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert created.status_code == 202, created.text
    job = (await api.get(f"/imports/{created.json()['id']}", headers=admin_headers)).json()
    assert job["progress"]["totalRows"] == len(ROWS)


async def test_a_file_over_the_row_limit_is_refused(database) -> None:
    limited = get_settings().model_copy(update={"max_rows": 30})
    config = ImportConfig(deduplication_keys=["email"])
    with pytest.raises(FileRejected, match="more than 30 rows"):
        await jobs.create_job(
            io.BytesIO(csv_bytes(["firstName", "email"], ROWS)),
            "big.csv",
            config,
            "admin",
            RecordingDispatcher(),
            limited,
        )
