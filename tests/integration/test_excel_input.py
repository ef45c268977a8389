"""Excel workbooks (.xlsx) through the same mapping, validation and job path as CSV files."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.helpers import csv_bytes, import_form, wait_for_job, xlsx_bytes

# The example of the product documentation ("Example CSV"; its phone numbers are not valid
# ones, so those rows fail), and a row that imports.
SEED_HEADER = ["firstName", "lastName", "email", "phoneNumber", "city"]
SEED_ROWS = [
    ["John", "Doe", "john@example.com", "+1234567890", "New York"],
    ["Jane", "Smith", "jane@example.com", "+0987654321", "Boston"],
    ["Ann", "Lee", "ann@example.com", "+12025550143", "Paris"],
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_form(content: bytes, config: dict[str, Any]) -> dict[str, Any]:
    form = import_form(content, config, name="customers.xlsx")
    form["files"] = {"file": ("customers.xlsx", content, XLSX)}
    return form


async def imported(
    api: httpx.AsyncClient, headers: dict[str, str], form: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[dict[str, Any]]]:
    """The finished job, its report's Details rows, and the customers' attributes."""
    created = await api.post("/imports", headers=headers, **form)
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], headers)
    report = await api.get(f"/imports/{job['id']}/report", headers=headers)
    details = load_workbook(io.BytesIO(report.content), read_only=True)["Details"]
    customers = (await api.get("/customers", headers=headers)).json()["items"]
    strip = ("id", "createdAt", "updatedAt", "lastImportId")
    return (
        job,
        list(details.iter_rows(values_only=True)),
        [{k: v for k, v in c.items() if k not in strip} for c in customers],
    )


async def test_an_xlsx_of_the_seed_example_imports_exactly_like_its_csv(
    api, database, worker, admin_headers
) -> None:
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    csv_job, csv_details, csv_customers = await imported(
        api, admin_headers, import_form(csv_bytes(SEED_HEADER, SEED_ROWS), config)
    )
    for name in ("customers", "identifier_claims"):
        await database[name].delete_many({})
    content = xlsx_bytes(("Customers", [SEED_HEADER, *SEED_ROWS]))
    xlsx_job, xlsx_details, xlsx_customers = await imported(
        api, admin_headers, xlsx_form(content, config)
    )

    assert xlsx_job["status"] == csv_job["status"] == "completed"
    assert xlsx_job["counts"] == csv_job["counts"]
    assert xlsx_job["mapping"] == csv_job["mapping"]
    assert xlsx_details == csv_details
    assert xlsx_customers == csv_customers
    assert xlsx_job["counts"] == {
        "total": 3,
        "imported": 1,
        "updated": 0,
        "ignored": 0,
        "failed": 2,
    }
    assert len(xlsx_customers) == 1


async def test_a_chosen_sheet_with_dates_and_numbers_imports_them_as_schema_types(
    api, database, worker, admin_headers
) -> None:
    schema = (await api.get("/record-types/customers/schema", headers=admin_headers)).json()
    extra = [
        {"key": "birthday", "label": "Birthday", "type": "date"},
        {"key": "score", "label": "Score", "type": "number"},
    ]
    replaced = await api.put(
        "/record-types/customers/schema",
        headers=admin_headers,
        json={"attributes": schema["attributes"] + extra},
    )
    assert replaced.status_code == 200, replaced.text
    content = xlsx_bytes(
        ("Notes", [["nothing", "here"], ["a", "b"]]),
        (
            "People",
            [
                ["firstName", "email", "birthday", "score"],
                ["Ann", "ann@example.com", dt.datetime(1990, 5, 17), 3.5],
                ["Bob", "bob@example.com", dt.date(1991, 1, 2), 7],
            ],
        ),
    )
    preview = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("people.xlsx", content, XLSX)},
        data={"sheet": "People"},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["sheets"] == ["Notes", "People"]
    assert [c["field"] for c in preview.json()["columns"]] == [
        "firstName",
        "email",
        "birthday",
        "score",
    ]
    config = {"deduplicationKeys": ["email"], "action": "ignore", "sheet": "People"}
    job, _, customers = await imported(api, admin_headers, xlsx_form(content, config))

    assert job["counts"]["imported"] == 2, job
    by_name = {c["firstName"]: c for c in customers}
    assert (by_name["Ann"]["birthday"], by_name["Ann"]["score"]) == ("1990-05-17", 3.5)
    assert (by_name["Bob"]["birthday"], by_name["Bob"]["score"]) == ("1991-01-02", 7)


async def test_an_unknown_sheet_or_a_broken_workbook_is_a_400_naming_it(
    api, database, admin_headers
) -> None:
    content = xlsx_bytes(("People", [["firstName"], ["Ann"]]))
    config = {"deduplicationKeys": ["email"], "sheet": "Nope"}
    response = await api.post("/imports", headers=admin_headers, **xlsx_form(content, config))
    assert response.status_code in (400, 422), response.text
    assert "no sheet 'Nope'; its sheets are: People" in response.json()["detail"]
    broken = await api.post(
        "/imports", headers=admin_headers, **xlsx_form(b"PK\x03\x04broken", config)
    )
    assert broken.status_code in (400, 422)
    assert "not a readable Excel workbook" in broken.json()["detail"]
    assert (await api.get("/imports", headers=admin_headers)).json()["total"] == 0


async def test_the_template_comes_as_a_workbook_too(api, database, admin_headers) -> None:
    csv_template = await api.get("/record-types/customers/template.csv", headers=admin_headers)
    xlsx_template = await api.get("/record-types/customers/template.xlsx", headers=admin_headers)
    assert xlsx_template.status_code == 200
    assert xlsx_template.headers["content-type"].startswith(XLSX)
    sheet = load_workbook(io.BytesIO(xlsx_template.content), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows == [line.split(",") for line in csv_template.text.strip().split("\r\n")]


async def test_the_workbook_template_marks_mandatory_columns(api, database, admin_headers) -> None:
    xlsx_template = await api.get("/record-types/customers/template.xlsx", headers=admin_headers)
    workbook = load_workbook(io.BytesIO(xlsx_template.content))
    header = next(iter(workbook.worksheets[0].iter_rows(max_row=1)))
    marked = [cell.value for cell in header if cell.font.bold]
    assert marked == ["firstName"]  # the default schema's one mandatory attribute
    columns = list(workbook["Columns"].iter_rows(values_only=True))
    assert columns[0] == (
        "Column", "Label", "Type", "Mandatory", "Several values", "Identifies a customer",
    )  # fmt: skip
    assert ("firstName", "First Name", "string", "yes", None, None) in columns
    assert ("email", "Email", "email", None, "yes", "yes") in columns
    for sheet, last in ((workbook.worksheets[0], "2"), (workbook["Columns"], str(len(columns)))):
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref.endswith(last) and sheet.auto_filter.ref.startswith("A1:")
        assert sheet.column_dimensions["A"].width >= 12
