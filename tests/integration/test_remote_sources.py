"""Imports of a remote source (DESIGN.md §7): `config.source` with a URL (a real HTTP server
on loopback) or an S3 object (the harness's S3-wire server), fetched by the job and checked
as an upload is. Each imports like the same file uploaded; a file that would have been
refused, or a source that fails, ends the job failed with the reason, having written nothing;
outbound safety holds when the source is created and when it is fetched (redirects too)."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.helpers import csv_bytes, import_form, wait_for_job, xlsx_bytes
from tests.loopback import Loopback, Served, loopback_server

CONFIG = {"deduplicationKeys": ["email"], "action": "append"}
ROWS = [
    ["Ann", "ann@example.com", "+12025550143"],
    ["Bob", "not-an-email", ""],
    ["Ann again", "ANN@example.com", ""],
    ["", "cy@example.com", ""],
    ["Di", "di@example.com", "+442071838750"],
]
FILE = csv_bytes(["firstName", "email", "phoneNumber"], ROWS)
WRITTEN = ("customers", "identifier_claims", "import_batches", "uploads.files")


@pytest.fixture
def web() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


def details(report: bytes) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Details"]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


async def run_import(api: Any, headers: dict[str, str], form: dict[str, Any]) -> dict[str, Any]:
    created = await api.post("/imports", headers=headers, **form)
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "pending"
    job = await wait_for_job(api, created.json()["id"], headers)
    if job["status"] == "completed":
        job["report"] = details(
            (await api.get(f"/imports/{job['id']}/report", headers=headers)).content
        )
    return job


def source_form(source: dict[str, Any], **config: Any) -> dict[str, Any]:
    """A multipart form of the `config` part alone (no file)."""
    text = json.dumps({**CONFIG, **config, "source": source})
    return {"files": {"config": (None, text, "application/json")}}


async def forget_customers(database: Any) -> None:
    for name in ("customers", "identifier_claims"):
        await database[name].delete_many({})


async def uploaded(api: Any, database: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The same file uploaded, on an empty customer base (then emptied again)."""
    job = await run_import(api, headers, import_form(FILE, CONFIG, "customers.csv"))
    await forget_customers(database)
    return job


async def test_a_url_source_imports_like_the_same_file_uploaded(
    api, database, admin_headers, worker, web
) -> None:
    reference = await uploaded(api, database, admin_headers)
    web.files["/exports/customers.csv"] = Served(FILE)
    job = await run_import(
        api, admin_headers, source_form({"url": f"{web.url}/exports/customers.csv"})
    )
    assert job["status"] == "completed", job
    assert (
        job["counts"]
        == reference["counts"]
        == {"total": 5, "imported": 2, "updated": 1, "ignored": 0, "failed": 2}
    )
    assert job["report"] == reference["report"]
    assert job["fileName"] == "customers.csv"
    assert job["source"] == {"url": f"{web.url}/exports/customers.csv"}
    assert job["scheduleId"] is None


async def test_an_s3_source_imports_like_the_same_file_uploaded(
    api, database, admin_headers, worker
) -> None:
    from config import Settings
    from store.sources import s3_client

    reference = await uploaded(api, database, admin_headers)
    s3 = s3_client(Settings())
    s3.create_bucket(Bucket="crm-exports")
    s3.put_object(Bucket="crm-exports", Key="nightly/customers.csv", Body=FILE)
    source = {"s3": {"bucket": "crm-exports", "key": "nightly/customers.csv"}}
    job = await run_import(api, admin_headers, source_form(source))
    assert job["status"] == "completed", job
    assert job["counts"] == reference["counts"]
    assert job["report"] == reference["report"]
    assert job["source"] == source and job["fileName"] == "customers.csv"


async def test_an_xlsx_source_is_read_as_a_workbook(
    api, database, admin_headers, worker, web
) -> None:
    web.files["/book.xlsx"] = Served(
        xlsx_bytes(("People", [["firstName", "email"], ["Eve", "eve@example.com"]]))
    )
    job = await run_import(api, admin_headers, source_form({"url": f"{web.url}/book.xlsx"}))
    assert job["status"] == "completed", job
    assert job["counts"]["imported"] == 1 and job["fileName"] == "book.xlsx"


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        (Served(csv_bytes(["email"], [["a@example.com"]])), "mandatory attribute(s): firstName"),
        (Served(b"", status=404), "answered HTTP 404"),
        (Served(b"\x00\x01\x02" * 50), "refused"),
    ],
    ids=["missing firstName", "404", "not a table"],
)
async def test_a_source_that_would_be_refused_ends_failed_with_the_reason_and_writes_nothing(
    api, database, admin_headers, worker, web, served, reason
) -> None:
    web.files["/export.csv"] = served
    job = await run_import(api, admin_headers, source_form({"url": f"{web.url}/export.csv"}))
    assert job["status"] == "failed", job
    assert reason in job["error"]
    for name in WRITTEN:
        assert await database[name].count_documents({}) == 0, name
    report = await api.get(f"/imports/{job['id']}/report", headers=admin_headers)
    assert report.status_code == 409 and "before its file was read" in report.json()["detail"]


async def test_a_missing_s3_object_ends_failed(api, database, admin_headers, worker) -> None:
    source = {"s3": {"bucket": "no-such-bucket", "key": "c.csv"}}
    job = await run_import(api, admin_headers, source_form(source))
    assert job["status"] == "failed" and "does not exist" in job["error"], job


async def test_a_private_address_is_refused_without_outbound_allow_private(
    database, admin_headers, web
) -> None:
    from api.app import create_app
    from config import Settings

    app = create_app(Settings(outbound_allow_private=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as api:
        for url in (f"{web.url}/x.csv", "http://localhost/x.csv", "http://[::1]/x.csv"):
            refused = await api.post("/imports", headers=admin_headers, **source_form({"url": url}))
            assert refused.status_code == 400, refused.text
            assert "loopback address" in refused.json()["detail"]
    assert await database["import_jobs"].count_documents({}) == 0


async def test_the_address_is_checked_again_when_fetched_and_at_each_redirect(web) -> None:
    from config import Settings
    from domain.remote import Source
    from store import sources

    web.files["/data.csv"] = Served(FILE)
    closed = Settings(outbound_allow_private=False)
    with tempfile.TemporaryFile() as target, pytest.raises(sources.SourceError, match="loopback"):
        await sources.fetch(Source(url=f"{web.url}/data.csv"), target, closed)
    # The first host may be reached; the one it redirects to may not.
    port = web.url.rsplit(":", 1)[1]
    only_first = lambda address: None if address == "127.0.0.1" else "not this one"  # noqa: E731
    redirect = f"{web.url}/redirect?to=/data.csv"
    with tempfile.TemporaryFile() as target:
        assert await sources.fetch(Source(url=redirect), target, Settings(), rule=only_first)
    other = f"http://127.0.0.2:{port}/data.csv"
    with (
        tempfile.TemporaryFile() as target,
        pytest.raises(sources.SourceError, match="not this one"),
    ):
        await sources.fetch(
            Source(url=f"{web.url}/redirect?to={other}"), target, Settings(), rule=only_first
        )


async def test_a_source_too_big_or_too_slow_is_refused(web) -> None:
    from config import Settings
    from domain.remote import Source
    from store import sources

    web.files["/big.csv"] = Served(FILE)
    with (
        tempfile.TemporaryFile() as target,
        pytest.raises(sources.SourceError, match="larger than 20 bytes"),
    ):
        await sources.fetch(Source(url=f"{web.url}/big.csv"), target, Settings(max_upload_bytes=20))
    web.hang_seconds = 3
    with (
        tempfile.TemporaryFile() as target,
        pytest.raises(sources.SourceError, match="within 1 seconds"),
    ):
        await sources.fetch(
            Source(url=f"{web.url}/big.csv"), target, Settings(source_timeout_seconds=1)
        )


async def test_a_file_and_a_source_together_are_refused(api, database, admin_headers) -> None:
    form = import_form(FILE, {**CONFIG, "source": {"url": "http://127.0.0.1/x.csv"}})
    refused = await api.post("/imports", headers=admin_headers, **form)
    assert refused.status_code == 422 and "not both" in refused.json()["detail"]
    assert os.environ["OUTBOUND_ALLOW_PRIVATE"] == "true"
