"""Requests an outside tester sent that once answered 500 or broke a download: each now gets
a clear 4xx (or its row a clear reason), and nothing is written where the request is refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import csv_bytes, import_form, raw_xlsx, rewritten_xlsx, wait_for_job


def with_hidden_first_sheet(content: bytes) -> bytes:
    """The workbook with a hidden sheet of other people before its own."""
    hidden = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c></row>'
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>Hidden</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    return rewritten_xlsx(
        content,
        {
            "xl/workbook.xml": lambda d: d.replace(
                b"<sheets>", b'<sheets><sheet name="Old" sheetId="2" state="hidden" r:id="rId9"/>'
            ),
            "xl/_rels/workbook.xml.rels": lambda d: d.replace(
                b"</Relationships>",
                b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/'
                b'2006/relationships/worksheet" Target="worksheets/old.xml"/></Relationships>',
            ),
        },
        {"xl/worksheets/old.xml": hidden},
    )


def _with_dimension(content: bytes, dimension: bytes) -> bytes:
    sheet = "xl/worksheets/sheet1.xml"
    return rewritten_xlsx(
        content, {sheet: lambda d: d.replace(b"<sheetData>", dimension + b"<sheetData>")}
    )


async def _customer_count(database: Any) -> int:
    return int(await database["customers"].count_documents({}))


@pytest.mark.parametrize("key", ["clé-äöü", "密钥", "\u00ff" * 40])
async def test_a_non_ascii_api_key_is_refused_not_a_crash(api, database, key) -> None:
    response = await api.get("/imports", headers={"Authorization": f"Bearer {key}".encode()})
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "Invalid API key"


async def test_json_nested_ten_thousand_deep_is_a_400(api, database, admin_headers) -> None:
    deep = '{"a": ' * 10_000 + "1" + "}" * 10_000
    body = '{"action": "ignore", "deduplicationKeys": ["email"], "customers": [' + deep + "]}"
    response = await api.post(
        "/customers/bulkCustomers",
        headers={**admin_headers, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["detail"]

    form = import_form(csv_bytes(["firstName"], [["Ann"]]), {})
    form["data"]["config"] = "[" * 10_000 + "]" * 10_000
    refused = await api.post("/imports", headers=admin_headers, **form)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"] == "'config' is nested too deeply (at most 32 levels)"
    assert await database["import_jobs"].count_documents({}) == 0
    assert await _customer_count(database) == 0


@pytest.mark.parametrize("path", ["/customers", "/imports"])
@pytest.mark.parametrize("offset", [2**63, 2**64 + 5, 10**9 + 1])
async def test_an_offset_past_any_list_is_a_400(api, database, admin_headers, path, offset) -> None:
    response = await api.get(path, headers=admin_headers, params={"offset": str(offset)})
    assert response.status_code == 400, response.text
    assert "offset" in response.json()["detail"]


async def test_a_bulk_value_longer_than_the_field_limit_rejects_its_customer(
    api, database, admin_headers
) -> None:
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [
            {"firstName": "x" * 10_001, "email": "long@example.com"},
            {"firstName": "Ann", "email": "ann@example.com"},
        ],
    }
    response = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["insertedCount"], result["rejectedCount"]) == (1, 1)
    reason = result["rejectedCustomers"][0]["reason"]
    assert "Value of firstName too long: 10001 characters, at most 10000" in reason
    assert await _customer_count(database) == 1


async def test_a_bulk_body_over_the_byte_limit_is_a_413(api, database, admin_headers) -> None:
    from config import get_settings

    limit = get_settings().bulk_max_bytes
    customers = [{"firstName": "y" * 9_000, "email": f"c{i}@example.com"} for i in range(2_000)]
    body = json.dumps({"action": "ignore", "deduplicationKeys": ["email"], "customers": customers})
    assert len(body) > limit
    response = await api.post(
        "/customers/bulkCustomers",
        headers={**admin_headers, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 413, response.text
    assert await _customer_count(database) == 0
    assert (await api.get("/health")).status_code == 200  # and the service goes on


@pytest.mark.parametrize(
    ("file_name", "fallback"),
    [
        ("客户.csv", ""),
        ('evil".csv', "evil_"),
        ("a\";filename*=UTF-8''evil.exe;x=\".csv", "a__filename__UTF-8__evil.exe_x__"),
        ("Zoë Müller.csv", "Zoe Muller"),
    ],
)
async def test_downloads_name_any_upload_safely(
    api, database, worker, admin_headers, file_name, fallback
) -> None:
    rows = [["Ann", "ann@example.com"], ["", "bad"]]
    form = import_form(
        csv_bytes(["firstName", "email"], rows),
        {"deduplicationKeys": ["email"], "action": "ignore"},
        name=file_name,
    )
    created = await api.post("/imports", headers=admin_headers, **form)
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    stem = file_name.rsplit(".", 1)[0]
    for suffix in ("report", "failed-rows.csv"):
        response = await api.get(f"/imports/{job['id']}/{suffix}", headers=admin_headers)
        assert response.status_code == 200, response.text
        name = f"{stem}-report.xlsx" if suffix == "report" else f"{stem}-failed-rows.csv"
        expected_fallback = fallback + name[len(stem) :]
        assert response.headers["content-disposition"] == (
            f"attachment; filename=\"{expected_fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
        )


async def test_failed_rows_csv_escapes_headers_and_keeps_reasons_in_their_column(
    api, database, worker, admin_headers
) -> None:
    content = (
        b'firstName,email,=HYPERLINK("http://x")\r\n'
        b"Ann,ann@example.com,a\r\n"
        b",short@example.com\r\n"
        b"Bob,bob@example.com,b,extra\r\n"
    )
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], admin_headers)
    response = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    lines = response.content.decode("utf-8-sig").splitlines()

    assert lines[0] == 'firstName,email,"\'=HYPERLINK(""http://x"")",error'
    failed = [line.split(",") for line in lines[1:]]
    assert all(len(cells) == 4 for cells in failed), lines
    assert failed[0][:3] == ["", "short@example.com", ""]
    assert failed[0][3] == "Row has 2 values but the header has 3 columns"
    assert failed[-1][0] == "Bob" and "extra" in failed[-1][3]


async def test_a_wide_file_the_limits_admit_imports_in_batches_that_fit(
    api, database, worker, admin_headers
) -> None:
    """120 rows with three unmapped 9,000-character columns (3 MB), asked for in one batch
    of 10,000 rows: batches close by bytes too, so every one fits a document."""
    filler = "w" * 9_000
    rows = [[f"P{i}", f"p{i}@example.com", filler, filler, filler] for i in range(120)]
    content = csv_bytes(["firstName", "email", "notes1", "notes2", "notes3"], rows)
    config = {
        "deduplicationKeys": ["email"],
        "action": "ignore",
        "batchSize": 10_000,
        "mapping": {"notes1": None, "notes2": None, "notes3": None},
    }
    created = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert created.status_code == 202, created.text
    job = await wait_for_job(api, created.json()["id"], admin_headers, timeout=120)

    assert job["status"] == "completed", job
    assert job["counts"]["imported"] == 120
    assert await database["import_batches"].count_documents({"job_id": job["id"]}) > 1
    assert await _customer_count(database) == 120


async def test_fix_and_retry_reads_back_the_values_the_failed_rows_csv_escaped(
    api, database, worker, admin_headers
) -> None:
    """`@`, `-`, `=` and `'` at the start of a cell are escaped for spreadsheets in the
    failed-rows CSV; the retry of that same file imports the real values."""
    header = ["firstName", "email", "twitter", "city", "lastName"]
    rows = [["", "ann@example.com", "@rt_handle", "-Berlin-", "'=quoted"]]
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(csv_bytes(header, rows), config)
    )
    original = await wait_for_job(api, created.json()["id"], admin_headers)
    assert original["counts"]["failed"] == 1, original
    failed = await api.get(f"/imports/{original['id']}/failed-rows.csv", headers=admin_headers)
    text = failed.content.decode("utf-8-sig")
    assert "'@rt_handle,'-Berlin-,''=quoted" in text
    fixed = text.replace(",ann@example.com", "Ann,ann@example.com", 1).encode()

    retry = await api.post(
        f"/imports/{original['id']}/retry",
        headers=admin_headers,
        files={"file": ("fixed.csv", fixed, "text/csv")},
    )
    assert retry.status_code == 202, retry.text
    job = await wait_for_job(api, retry.json()["id"], admin_headers)
    assert job["counts"]["imported"] == 1, job
    found = await api.get("/customers", headers=admin_headers, params={"email": "ann@example.com"})
    customer = found.json()["items"][0]
    assert (customer["firstName"], customer["twitter"]) == ("Ann", ["@rt_handle"])
    assert (customer["city"], customer["lastName"]) == ("-Berlin-", "'=quoted")


async def _import(
    api: Any, headers: dict[str, str], content: bytes, name: str = "customers.csv"
) -> dict[str, Any]:
    config = {"deduplicationKeys": ["email"], "action": "ignore"}
    created = await api.post("/imports", headers=headers, **import_form(content, config, name))
    assert created.status_code == 202, created.text
    return await wait_for_job(api, created.json()["id"], headers)


async def _first_names(database: Any) -> set[str]:
    return {c["attributes"]["firstName"] async for c in database["customers"].find({})}


async def test_a_windows_1252_row_among_utf8_ones_garbles_none_of_them(
    api, database, worker, admin_headers
) -> None:
    content = (
        b"firstName,email\r\n"
        + "Renée,renee@example.com\r\n".encode("cp1252")
        + "Zoë,zoe@example.com\r\nŁukasz,lukasz@example.com\r\n".encode()
    )
    job = await _import(api, admin_headers, content)
    assert job["counts"]["imported"] == 3, job
    assert await _first_names(database) == {"Renée", "Zoë", "Łukasz"}


async def test_a_file_with_cr_line_ends_imports_every_row(
    api, database, worker, admin_headers
) -> None:
    job = await _import(
        api, admin_headers, b"firstName,email\rAnn,ann@example.com\rBob,bob@example.com\r"
    )
    assert job["counts"] == {"total": 2, "imported": 2, "updated": 0, "ignored": 0, "failed": 0}


async def test_an_unclosed_quote_fails_its_row_naming_the_line_it_opened_on(
    api, database, worker, admin_headers
) -> None:
    content = (
        b"firstName,email,city,labels\r\n"
        b"Ann,ann@example.com,Oslo,x\r\n"
        b'Bob,"bob@example.com,Rome,y\r\n'
        b"Cat,cat@example.com,Lima,z\r\n"
    )
    job = await _import(api, admin_headers, content)
    assert job["counts"]["failed"] == 1, job
    failed = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    assert "a quote opened on line 3 takes in the lines up to line 4" in failed.text


async def test_a_workbook_s_hidden_first_sheet_is_not_the_one_imported(
    api, database, worker, admin_headers
) -> None:
    visible = (
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c>'
        b'<c r="B1" t="inlineStr"><is><t>email</t></is></c></row>'
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>Ann</t></is></c>'
        b'<c r="B2" t="inlineStr"><is><t>ann@example.com</t></is></c></row>'
        b'<row r="3"><c r="A3" t="inlineStr"><is><t>Bob</t></is></c>'
        b'<c r="B3" t="str"><f>LOWER("BOB@EXAMPLE.COM")</f></c></row>'
    )
    content = with_hidden_first_sheet(raw_xlsx(visible))
    mapping = await api.post(
        "/imports/mapping", headers=admin_headers, files={"file": ("c.xlsx", content, "x")}
    )
    assert mapping.json()["sheets"] == ["S"], mapping.text
    job = await _import(api, admin_headers, content, name="c.xlsx")
    assert (job["counts"]["imported"], job["counts"]["failed"]) == (1, 1), job
    assert await _first_names(database) == {"Ann"}
    failed = await api.get(f"/imports/{job['id']}/failed-rows.csv", headers=admin_headers)
    assert "Cell B3 holds a formula with no saved value" in failed.text


@pytest.mark.parametrize(
    "rows",
    [
        # A tiny file that declares 16,384 columns by 20,000 rows.
        b'<dimension ref="A1:XFD20000"/>',
        # Hundreds of thousands of blank rows before the data.
        b"".join(b'<row r="%d"/>' % i for i in range(2, 300_000))
        + b'<row r="300000"><c r="A300000"><v>1</v></c></row>',
    ],
    ids=["declared dimension", "blank rows"],
)
async def test_a_workbook_that_declares_or_holds_emptiness_is_previewed_at_once(
    api, database, admin_headers, rows
) -> None:
    header = b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c></row>'
    if rows.startswith(b"<dimension"):
        content = raw_xlsx(header + b'<row r="2"><c r="A2"><v>1</v></c></row>')
        content = _with_dimension(content, rows)
    else:
        content = raw_xlsx(header + rows)
    response = await api.post(
        "/imports/mapping", headers=admin_headers, files={"file": ("b.xlsx", content, "x")}
    )
    assert response.status_code == 200, response.text
    assert [c["column"] for c in response.json()["columns"]] == ["firstName"]


async def test_imports_sent_at_once_never_exceed_the_running_limit_of_their_key(database) -> None:
    """The count of a key's running imports and the creation of a new one are one step:
    ten sent together with a limit of three start three; the others get 429 and leave no
    file behind."""
    import uuid

    import httpx

    from api.app import close_limits, create_app
    from config import Settings

    settings = Settings(admin_api_key=f"together-{uuid.uuid4().hex}", max_running_imports_per_key=3)
    app = create_app(settings)
    rows = [[f"P{i}", f"p{i}@example.com"] for i in range(3_000)]
    form = import_form(csv_bytes(["firstName", "email"], rows), {"deduplicationKeys": ["email"]})
    headers = {"Authorization": f"Bearer {settings.admin_api_key}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/imports", headers=headers, **form) for _ in range(10))
        )
    await close_limits(app.state)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 3 + [429] * 7, [a.text for a in answers]
    assert await database["import_jobs"].count_documents({}) == 3
    assert await database["uploads.files"].count_documents({}) == 3


async def test_a_key_with_its_mapping_previews_running_gets_429_for_another(
    api, database, admin_headers, monkeypatch
) -> None:
    from store.jobs import admission

    monkeypatch.setitem(admission.previews_running, "admin", 2)  # two of the admin's, reading
    form = {"files": {"file": ("c.csv", csv_bytes(["firstName"], [["Ann"]]), "text/csv")}}
    refused = await api.post("/imports/mapping", headers=admin_headers, **form)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "1"
    assert "2 mapping previews running; at most 2" in refused.json()["detail"]
    monkeypatch.setitem(admission.previews_running, "admin", 1)
    assert (await api.post("/imports/mapping", headers=admin_headers, **form)).status_code == 200
    assert admission.previews_running["admin"] == 1  # its own slot given back


async def test_a_long_file_name_is_cut_and_one_past_the_form_s_limit_refused_clearly(
    api, database, admin_headers
) -> None:
    rows = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"]])
    config = {"deduplicationKeys": ["email"]}
    created = await api.post(
        "/imports", headers=admin_headers, **import_form(rows, config, "n" * 3_000 + ".csv")
    )
    assert created.status_code == 202, created.text
    job = await api.get(f"/imports/{created.json()['id']}", headers=admin_headers)
    assert job.json()["fileName"] == "n" * 250 + "….csv"
    refused = await api.post(
        "/imports", headers=admin_headers, **import_form(rows, config, "n" * 8_000 + ".csv")
    )
    assert refused.status_code == 400, refused.text
    assert "file name of thousands of characters" in refused.json()["detail"]


async def test_a_mapping_of_thousands_of_unknown_columns_is_named_in_a_short_reason(
    api, database, admin_headers
) -> None:
    mapping = {f"column {i} " + "x" * 200: "email" for i in range(100_000)}
    config = {"deduplicationKeys": ["email"], "mapping": mapping}
    form = import_form(csv_bytes(["firstName", "email"], [["Ann", "a@example.com"]]), config)
    refused = await api.post("/imports", headers=admin_headers, **form)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert len(refused.content) < 2_000
    assert detail.startswith("Mapping names columns that are not in the file: column 0 x")
    assert detail.endswith("and 99990 more")


async def test_a_phone_extension_is_kept_after_the_e164_number(
    api, database, worker, admin_headers
) -> None:
    rows = [["Ann", "ann@example.com", "+1 212 555 0100 ext. 12"]]
    job = await _import(api, admin_headers, csv_bytes(["firstName", "email", "phone"], rows))
    assert job["counts"]["imported"] == 1, job
    body = {
        "action": "ignore",
        "deduplicationKeys": ["email"],
        "customers": [
            {"firstName": "Bob", "email": "bob@example.com", "phoneNumber": "+1 212 555 0100 x13"}
        ],
    }
    bulk = await api.post("/customers/bulkCustomers", headers=admin_headers, json=body)
    assert bulk.json()["insertedCount"] == 1, bulk.text
    phones = {
        c["attributes"]["firstName"]: c["attributes"]["phoneNumber"]
        async for c in database["customers"].find({})
    }
    assert phones == {"Ann": ["+12125550100;ext=12"], "Bob": ["+12125550100;ext=13"]}
