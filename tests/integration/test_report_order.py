"""The report and the failed-rows CSV list rows by CSV row number although batches interleave,
and their content is exactly what it was before they were streamed: every cell of every sheet
is checked against a plain in-memory model of the report. The same job is built with the
module's own memory bounds and with bounds so small that every row is its own spilled run,
runs are merged in several passes, and batches are read one query each; and with batches
that kept what the report shows of their rows (as batches do when they finish), that did not
(a failed batch: the report works it out from the rows and results), and a mix."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from openpyxl import load_workbook

from domain.formula_safety import escaped
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from store import files, reports
from store.documents import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    JobStatus,
    RowResultRecord,
    unpack,
    utcnow,
)
from store.jobs.states import batch_id
from store.reports import failed_rows, spill
from store.reports import rows as batch_reading
from store.reports.rows import pack_details
from store.schema_changes.versions import attributes_json
from tests.helpers import csv_bytes, import_form, wait_for_job

HEADER = ["First Name", "Email", "Phone", "Notes"]
MAPPING = {"First Name": "firstName", "Email": "email", "Phone": "phoneNumber"}  # Notes: none
ROWS = 40
BATCHES = 3  # row n goes to batch n % 3: every batch spans the whole file
LONG = "x" * 40_000  # longer than an Excel cell holds
HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-2", "tab\there", "bell\x07"]


def row_and_result(number: int) -> tuple[BatchRow, RowResultRecord]:
    """Row `number` of the seeded file: failed, ignored, updated or imported in turn."""
    notes = LONG if number == 13 else HOSTILE[number % len(HOSTILE)]
    email, phone = f"p{number}@example.com", f"+1202555{number:04d}"
    raw = [f"Name{number}", email, phone, notes]
    kind = number % 4
    if kind == 0:  # failed validation: no values, the identifiers come from the cells
        raw[1] = f"bad-{number}"
        reason = f"Invalid email format: 'bad-{number}'"
        row = BatchRow(number=number, line=number + 1, raw=raw, errors=[reason])
        return row, RowResultRecord(number=number, outcome="failed", reason=reason)
    values = {"firstName": raw[0], "email": [email], "phoneNumber": [phone]}
    row = BatchRow(number=number, line=number + 1, raw=raw, values=values)
    customer = f"{number:024x}"
    if kind == 1:
        result = RowResultRecord(
            number=number,
            outcome="ignored",
            reason="Ignored - duplicate found",
            customer_id=customer,
        )
    elif kind == 2:  # every other update changed fields; the others changed nothing
        changes = [("firstName", "Old", raw[0]), ("phoneNumber", None, [phone])]
        result = RowResultRecord(
            number=number,
            outcome="updated",
            customer_id=customer,
            changes=changes if number % 8 == 2 else [],
        )
    else:
        result = RowResultRecord(number=number, outcome="imported", customer_id=customer)
    return row, result


def report_job(**fields: Any) -> ImportJob:
    """A job of the seeded file (HEADER, MAPPING, the default schema), not stored."""
    return ImportJob(
        file_name="people.csv",
        file_id=ObjectId(),
        action="append",
        deduplication_keys=["email"],
        mapping=MAPPING,
        header=HEADER,
        schema_attributes=attributes_json(DEFAULT_CUSTOMER_SCHEMA),
        **fields,
    )


async def seed_job(details: str = "worked out") -> ImportJob:
    """A finished job whose batches interleave: batch seq s holds rows n with n % 3 == s.
    `details`: its batches keep what the report shows of their rows ("kept"), none does
    ("worked out"), or the first only ("mixed")."""
    pairs = [row_and_result(n) for n in range(1, ROWS + 1)]
    counts = Counts(total=ROWS)
    for _, result in pairs:
        setattr(counts, result.outcome, getattr(counts, result.outcome) + 1)
    started = utcnow() - timedelta(minutes=3)
    job = report_job(
        status=JobStatus.COMPLETED,
        started_at=started,
        finished_at=started + timedelta(seconds=75.25),
        total_rows=ROWS,
        processed_rows=ROWS,
        batch_count=BATCHES,
        counts=counts,
    )
    await job.insert()
    for seq in range(BATCHES):
        members = [(row, result) for row, result in pairs if row.number % BATCHES == seq]
        kept = None
        if details == "kept" or (details == "mixed" and seq == 0):
            rows = [row.model_dump() for row, _ in members]
            kept = pack_details(job, rows, [result.model_dump() for _, result in members])
        await ImportBatch(
            id=batch_id(job.id, seq),
            job_id=str(job.id),
            seq=seq,
            rows=[row for row, _ in members],
            results=[result for _, result in members],
            status=BatchStatus.DONE,
            packed_details=kept,
        ).insert()
    reloaded = await ImportJob.get(job.id)
    assert reloaded is not None
    return reloaded


def cell_text(value: str) -> str:
    """What a text cell holds as openpyxl reads it: a control character as Excel's escape
    (`_x0007_`: Excel shows the character; openpyxl leaves escapes as written), long values
    cut and marked."""
    if len(value) > 32_767:
        value = value[: 32_767 - len("…[truncated]")] + "…[truncated]"
    return value.replace("\x07", "_x0007_")


def expected_sheets(job: ImportJob) -> dict[str, list[tuple[Any, ...]]]:
    """The report, modelled in memory: every cell value, by sheet."""
    details, written = [], {"imported": [], "updated": []}
    for number in range(1, ROWS + 1):
        row, result = row_and_result(number)
        identifiers = f"{row.raw[1]}; {row.raw[2]}"  # email, then phone: the schema's order
        sheet_row = number + 1  # as a spreadsheet shows it: the header is row 1
        if result.outcome == "imported":
            written["imported"].append((sheet_row, result.customer_id, row.raw[0], identifiers))
            continue
        if result.outcome == "updated":
            changes = (
                f"firstName: Old → {row.raw[0]}; phoneNumber: (empty) → {row.raw[2]}"
                if result.changes
                else "(nothing changed)"
            )
            written["updated"].append(
                (sheet_row, result.customer_id, row.raw[0], identifiers, changes)
            )
            continue
        details.append((sheet_row, identifiers, result.reason, *map(cell_text, row.raw)))
    assert job.started_at and job.finished_at
    summary = [
        ("Summary", "Count"),
        ("Total Records", ROWS),
        ("Imported", 10),
        ("Updated", 10),
        ("  of which unchanged", 5),
        ("Ignored", 10),
        ("Failed", 10),
        (None, None),
        ("File name", "people.csv"),
        ("Record type", "customers"),
        ("Action", "append"),
        ("Deduplication keys", "email"),
        ("Mapping", "First Name → firstName; Email → email; Phone → phoneNumber"),
        ("Dry run", "no"),
        ("Started", job.started_at.isoformat()),
        ("Finished", job.finished_at.isoformat()),
        ("Duration (s)", 75.25),
    ]
    return {
        "Summary": summary,
        "Details": [("Row", "Identifiers", "Reason", *HEADER), *details],
        "Imported": [("Row", "Customer id", "Name", "Identifiers"), *written["imported"]],
        "Updated": [
            ("Row", "Customer id", "Name", "Identifiers", "Changes"),
            *written["updated"],
        ],
    }


def expected_failed_rows_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*HEADER, "error"])
    for number in range(1, ROWS + 1):
        row, result = row_and_result(number)
        if result.outcome == "failed":
            writer.writerow([escaped(v) for v in row.raw] + [result.reason])
    return buffer.getvalue().encode("utf-8-sig")


@pytest.fixture(params=["module bounds", "tiny bounds"])
def bounds(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "tiny bounds":
        monkeypatch.setattr(spill, "SORT_CHUNK_BYTES", 1)  # each row its own run
        monkeypatch.setattr(spill, "MERGE_FAN_IN", 2)  # merged in several passes
        monkeypatch.setattr(spill, "RUN_BUFFER_BYTES", 8)
        monkeypatch.setattr(batch_reading, "READ_ROWS", 1)  # one batch per query
        monkeypatch.setattr(failed_rows, "CSV_CHUNK_CHARS", 1)  # one CSV piece per row
    return str(request.param)


@pytest.fixture(params=["kept", "worked out", "mixed"])
def details(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_report_lists_rows_by_number_with_the_same_cells(database, bounds, details) -> None:
    job = await seed_job(details)
    numbers = [
        [r.number for r in b.rows]
        async for b in ImportBatch.find(ImportBatch.job_id == str(job.id))
    ]
    assert all(max(a) > min(b) for a in numbers for b in numbers if a is not b), numbers

    file_id = await reports.build_report(job)
    content = b"".join([chunk async for chunk in files.iterate(files.reports(), file_id)])
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Summary", "Details", "Imported", "Updated"]
    for name, rows in expected_sheets(job).items():
        sheet = workbook[name]
        assert list(sheet.iter_rows(values_only=True)) == rows, name
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (name, cell.coordinate)  # never a formula
    details = list(workbook["Details"].iter_rows(values_only=True))
    assert [d[0] for d in details[1:]] == [n + 1 for n in range(1, ROWS + 1) if n % 4 in (0, 1)]
    assert details[13 // 4 * 2 + 1][6].endswith("…[truncated]")  # row 13's Notes
    stored = await database["reports.files"].find_one({"_id": file_id})
    assert stored["metadata"] == {"jobId": str(job.id), "contentType": reports.REPORT_CONTENT_TYPE}


async def test_failed_rows_csv_streams_the_same_bytes(database, bounds, details) -> None:
    job = await seed_job(details)
    pieces = [piece async for piece in reports.failed_rows_csv(job)]
    assert b"".join(pieces) == expected_failed_rows_csv()
    if bounds == "tiny bounds":
        assert len(pieces) == 1 + ROWS // 4  # the header, then one piece per failed row


async def test_failed_rows_endpoint_streams_csv(api, database, admin_headers) -> None:
    job = await seed_job()
    response = await api.get(f"/imports/{job.id}/failed-rows.csv", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"people-failed-rows.csv\"; filename*=UTF-8''people-failed-rows.csv"
    )
    assert response.content == expected_failed_rows_csv()
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1] for row in table[1:]] == [f"bad-{n}" for n in range(4, ROWS + 1, 4)]


async def test_interleaved_batches_of_a_real_import_come_back_in_file_order(
    api, database, worker, admin_headers
) -> None:
    # Rows 1 and 4 share an email: with two rows per batch, batch 0 holds rows 1 and 4 and
    # batch 1 rows 2 and 3, so read batch by batch the Details sheet would list 4 before 2.
    rows = [
        ["Ann", "ann@example.com"],
        ["Bob", "not-an-email"],
        ["Cid", "cid@example.com"],
        ["Ann B", "ann@example.com"],
        ["Dan", "also bad"],
        ["Eve", "eve@example.com"],
    ]
    created = await api.post(
        "/imports",
        headers=admin_headers,
        **import_form(
            csv_bytes(["firstName", "email"], rows),
            {"deduplicationKeys": ["email"], "action": "ignore", "batchSize": 2},
        ),
    )
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["counts"] == {"total": 6, "imported": 3, "updated": 0, "ignored": 1, "failed": 2}
    batches = database["import_batches"].find({"job_id": job["id"]}).sort("seq", 1)
    stored = [b async for b in batches]
    numbers = [[r["number"] for r in unpack(b["packed_rows"])] for b in stored]
    assert numbers[:2] == [[1, 4], [2, 3]]
    # Each batch kept what the report shows of its rows: the report reads that.
    assert [[item["n"] for item in unpack(b["packed_details"])] for b in stored] == numbers

    report = await api.get(f"/imports/{job['id']}/report", headers=admin_headers)
    workbook = load_workbook(io.BytesIO(report.content))
    columns = {s.title: [r[0] for r in s.iter_rows(values_only=True)] for s in workbook}
    # Rows as a spreadsheet numbers them: the header is row 1, Ann is row 2.
    assert columns["Details"] == ["Row", 3, 5, 6]
    assert columns["Imported"] == ["Row", 2, 4, 7]
    assert columns["Updated"] == ["Row"]
    failed = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    lines = failed.content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines] == ["firstName", "Bob", "Dan"]
