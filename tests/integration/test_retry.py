"""Fix and retry (POST /imports/{id}/retry): the failed rows, corrected, imported with the
original's settings and mapping as a new job linked to it."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.helpers import csv_bytes, import_form, wait_for_job, wait_until, xlsx_bytes

HEADER = ["Given Name", "E-mail", "Town"]
ROWS = [
    ["Ann", "ann@example.com", "Boston"],
    ["Bob", "bob(at)example.com", "Denver"],
    ["", "cat@example.com", "Austin"],
    ["Dan", "dan@example.com", "Rome"],
]
MAPPING = {"Given Name": "firstName", "E-mail": "email", "Town": "city"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def summary(report: bytes) -> dict[Any, Any]:
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Summary"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}


async def original_import(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    config = {"deduplicationKeys": ["email"], "action": "update", "mapping": MAPPING}
    created = await api.post(
        "/imports", headers=headers, **import_form(csv_bytes(HEADER, ROWS), config)
    )
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], headers)
    assert job["counts"] == {"total": 4, "imported": 2, "updated": 0, "ignored": 0, "failed": 2}
    return job


async def corrected_failed_rows(
    api: httpx.AsyncClient, headers: dict[str, str], job_id: str
) -> list[dict[str, str]]:
    """The failed-rows CSV, with each failed cell fixed as a person would."""
    failed = await api.get(f"/imports/{job_id}/failed-rows.csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(failed.content.decode("utf-8-sig"))))
    fixes = {"bob(at)example.com": "bob@example.com"}
    for row in rows:
        row["E-mail"] = fixes.get(row["E-mail"], row["E-mail"])
        row["Given Name"] = row["Given Name"] or "Cat"
    return rows


async def test_a_retry_of_corrected_rows_imports_them_and_the_counts_add_up(
    api, database, worker, admin_headers
) -> None:
    original = await original_import(api, admin_headers)
    rows = await corrected_failed_rows(api, admin_headers, original["id"])
    content = csv_bytes([*HEADER, "error"], [[r[c] for c in [*HEADER, "error"]] for r in rows])

    response = await api.post(
        f"/imports/{original['id']}/retry",
        headers=admin_headers,
        files={"file": ("corrected.csv", content, "text/csv")},
    )
    assert response.status_code == 202, response.text
    retry = await wait_for_job(api, response.json()["id"], admin_headers)

    assert retry["status"] == "completed", retry
    assert retry["retryOf"] == original["id"]
    assert (retry["action"], retry["mapping"]) == ("update", MAPPING)
    assert retry["counts"] == {"total": 2, "imported": 2, "updated": 0, "ignored": 0, "failed": 0}
    assert retry["counts"]["total"] == original["counts"]["failed"]
    customers = (await api.get("/customers", headers=admin_headers)).json()
    assert customers["total"] == original["counts"]["imported"] + retry["counts"]["imported"]
    assert sorted(c["firstName"] for c in customers["items"]) == ["Ann", "Bob", "Cat", "Dan"]
    retry_report = await api.get(f"/imports/{retry['id']}/report", headers=admin_headers)
    assert original["id"] in summary(retry_report.content)["Retry of import"]

    async def original_names_its_retry() -> object:
        # Built again just after the retry completes: asked until it is there.
        answer = await api.get(f"/imports/{original['id']}/report", headers=admin_headers)
        return summary(answer.content).get("Failed rows retried by")

    named = await wait_until(original_names_its_retry, "the original's report names its retry")
    assert named == retry["id"]


async def test_corrected_rows_may_come_as_a_workbook(api, database, worker, admin_headers) -> None:
    original = await original_import(api, admin_headers)
    rows = await corrected_failed_rows(api, admin_headers, original["id"])
    content = xlsx_bytes(("Fixed", [HEADER, *[[r[c] for c in HEADER] for r in rows]]))
    response = await api.post(
        f"/imports/{original['id']}/retry",
        headers=admin_headers,
        files={"file": ("corrected.xlsx", content, XLSX)},
    )
    assert response.status_code == 202, response.text
    retry = await wait_for_job(api, response.json()["id"], admin_headers)
    assert retry["counts"]["imported"] == 2, retry


async def test_a_retry_without_the_original_columns_is_rejected_and_writes_nothing(
    api, database, worker, admin_headers
) -> None:
    original = await original_import(api, admin_headers)
    content = csv_bytes(["Given Name", "Town"], [["Bob", "Denver"]])
    response = await api.post(
        f"/imports/{original['id']}/retry",
        headers=admin_headers,
        files={"file": ("corrected.csv", content, "text/csv")},
    )
    assert response.status_code in (400, 422), response.text
    assert "lacks column(s) the original import mapped: E-mail" in response.json()["detail"]
    assert (await api.get("/imports", headers=admin_headers)).json()["total"] == 1
    no_file = await api.post(f"/imports/{original['id']}/retry", headers=admin_headers)
    assert no_file.status_code == 400
    assert "'file'" in no_file.json()["detail"]
