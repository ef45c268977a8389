"""The report never holds a formula from user data; failed rows come back as a fixable CSV."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.helpers import csv_bytes, import_form, summary_counts, wait_for_job

HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-2"]


async def test_hostile_values_stay_text_and_failed_rows_are_fixable(
    api, worker, admin_headers
) -> None:
    rows = [[value, "not-an-email", "+12025550143", value] for value in HOSTILE]
    rows.append(["Ann", "ann@example.com", "+14155550132", "Paris"])
    content = csv_bytes(["firstName", "email", "phoneNumber", "city"], rows)
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(content, {"deduplicationKeys": ["email"]})
    )
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    assert job["counts"] == {"total": 5, "imported": 1, "updated": 0, "ignored": 0, "failed": 4}

    report = await api.get(f"/imports/{job['id']}/report", headers=admin_headers)
    workbook = load_workbook(io.BytesIO(report.content))
    assert workbook.sheetnames == ["Summary", "Details", "Imported", "Updated"]
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    details = list(workbook["Details"].iter_rows(values_only=True))
    assert [d[0] for d in details[1:]] == [2, 3, 4, 5]  # spreadsheet rows: the header is 1
    assert details[1][2] == "Invalid email format: 'not-an-email'"
    assert details[1][3] == HOSTILE[0]

    failed = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    assert failed.status_code == 200
    table = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert table[0] == ["firstName", "email", "phoneNumber", "city", "error"]
    assert [r[0] for r in table[1:]] == ["'" + HOSTILE[0], "'@SUM(A1)", "+1", "-2"]
    assert all(r[2] == "+12025550143" for r in table[1:])
    assert table[1][4] == "Invalid email format: 'not-an-email'"


async def test_the_report_names_who_was_written_and_what_each_update_changed(
    api, database, worker, admin_headers
) -> None:
    seeded = await api.post(
        "/customers/bulkCustomers",
        headers=admin_headers,
        json={
            "action": "ignore",
            "deduplicationKeys": ["email"],
            "customers": [
                {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
                {"firstName": "Bob", "email": "bob@example.com", "city": "Rome"},
            ],
        },
    )
    assert seeded.json()["insertedCount"] == 2
    rows = [
        ["Ann", "ann@example.com", "Paris"],  # update: city filled in
        ["Bob", "bob@example.com", ""],  # update: nothing to fill
        ["Cy", "cy@example.com", "Oslo"],  # new
    ]
    content = csv_bytes(["firstName", "email", "city"], rows)
    config = {"deduplicationKeys": ["email"], "action": "update"}
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    report = await api.get(f"/imports/{job['id']}/report", headers=admin_headers)
    workbook = load_workbook(io.BytesIO(report.content))
    updated = list(workbook["Updated"].iter_rows(values_only=True))
    assert updated[0] == ("Row", "Customer id", "Name", "Identifiers", "Changes")
    assert [(r[0], r[2], r[3], r[4]) for r in updated[1:]] == [
        (2, "Ann", "ann@example.com", "city: (empty) → Paris"),  # the row's name
        (3, "Bob", "bob@example.com", "(nothing changed)"),
    ]
    imported = list(workbook["Imported"].iter_rows(values_only=True))
    assert [(r[0], r[2], r[3]) for r in imported[1:]] == [(4, "Cy", "cy@example.com")]
    assert summary_counts(report.content)["  of which unchanged"] == 1
    # Readable as opened: each sheet's header row frozen, columns sized, rows filterable.
    for name, last in (("Updated", "E3"), ("Imported", "D2"), ("Details", "F1")):
        sheet = workbook[name]
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref == f"A1:{last}", name
    assert workbook["Updated"].column_dimensions["E"].width == 60
