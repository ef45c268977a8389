"""The Streamlit pages in AppTest against the real stack (`running_stack`): each role's pages, every
state of the import page and of the upload status page, and readable API errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from stack.processes import free_port
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import (
    APP_SCRIPT,
    APP_TIMEOUT_SECONDS,
    VALID_PHONES,
    customers_csv,
    new_key,
    page_text,
    shown,
    signed_in_app,
    start_import,
    text_tables,
)
from tests.helpers import csv_bytes, wait_for_job_sync, xlsx_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

pytestmark = pytest.mark.e2e


@pytest.fixture
def ui_api(running_stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> RunningStack:
    """The UI in this process talks to the stack's API (API_URL, read through Settings)."""
    monkeypatch.setenv("API_URL", running_stack.api_url)
    return running_stack


@pytest.fixture
def api(running_stack: RunningStack) -> Iterator[httpx.Client]:
    with running_stack.client() as client:
        yield client


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def import_button(at: AppTest):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == "Import")


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="csv_file").set_value((name, content, "text/csv"))
    return at.run()


def mapping_choice(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    return next(s for s in at.selectbox if s.label == f"Import column {column} as")


# --- sign-in --------------------------------------------------------------------------------


def test_a_viewer_sees_the_status_page_and_cannot_import(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    key = new_key(api, "Vera Viewer", "viewer")
    at = signed_in_app(key, "Vera Viewer", "viewer").run()
    no_exception(at)
    assert at.title[0].value == "Upload status"
    assert "Signed in as **Vera Viewer** (viewer)" in page_text(at)
    assert not at.file_uploader
    assert not [b for b in at.button if b.label in ("Import", "Cancel this import")]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("import_page.py")


def test_an_importer_starts_on_the_import_page(ui_api: RunningStack, api: httpx.Client) -> None:
    key = new_key(api, "Ida Importer", "importer")
    at = signed_in_app(key, "Ida Importer", "importer").run()
    no_exception(at)
    assert at.title[0].value == "Import customers"
    assert "Signed in as **Ida Importer** (importer)" in page_text(at)


def test_no_session_shows_the_way_to_sign_in(ui_api: RunningStack) -> None:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=APP_TIMEOUT_SECONDS).run()
    no_exception(at)
    assert "You are not signed in, or your session has ended." in page_text(at)
    assert "principal" not in at.session_state


# --- import page ----------------------------------------------------------------------------


def test_no_file_shows_the_documented_choices(ui_api: RunningStack, api: httpx.Client) -> None:
    at = signed_in_app(ui_api.admin_key).run()
    no_exception(at)
    assert [s.value for s in at.subheader][:5] == [
        "1. Record type",
        "2. CSV or Excel file",
        "3. Channel identifier",
        "4. Action on matching records",
        "5. Map CSV columns to customer fields",
    ]
    record_type, identifier = at.selectbox[0], at.selectbox[1]
    assert record_type.options == ["Customers"]
    live = api.get("/record-types/customers/channel-identifiers").json()
    assert identifier.options == [i["label"] for i in live]
    action = at.radio[0]
    assert action.options == ["Ignore", "Replace", "Update (merge)", "Append"]
    assert "Risky: overwrites everything" in action.proto.captions[1]
    assert [d.label for d in at.get("download_button")] == [
        "Download the sample CSV template",
        "Download the sample Excel template",
    ]
    assert "Upload a file to see and adjust" in page_text(at)
    assert import_button(at).disabled


def test_bad_file_is_explained_and_cannot_be_imported(ui_api: RunningStack) -> None:
    at = signed_in_app(ui_api.admin_key).run()
    upload(at, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xfe\x00")
    no_exception(at)
    assert "This file cannot be imported:" in page_text(at)
    assert import_button(at).disabled


def test_missing_mandatory_blocks_import_until_mapped(ui_api: RunningStack) -> None:
    content = csv_bytes(["who", "email"], [["Ann", "ann@example.com"]])
    at = upload(signed_in_app(ui_api.admin_key).run(), "no-first-name.csv", content)
    no_exception(at)
    assert mapping_choice(at, "who").value is None
    assert ":red[:material/block: **who**]  \n:red[Not imported]" in page_text(at)
    assert "Missing mandatory attribute: First Name (firstName). Choose it" in page_text(at)
    assert import_button(at).disabled

    mapping_choice(at, "who").set_value("firstName")
    at.run()
    no_exception(at)
    assert "Missing mandatory" not in page_text(at)
    assert "Not imported" not in page_text(at)  # the highlight follows the choice
    assert "**who**" in page_text(at)
    assert not import_button(at).disabled


def test_remapped_column_is_submitted_and_imported(ui_api: RunningStack, api: httpx.Client) -> None:
    content = csv_bytes(
        ["firstName", "email", "company"],
        [["Rita", "rita@example.com", "Acme"], ["Sam", "sam@example.com", "Globex"]],
    )
    at = upload(signed_in_app(ui_api.admin_key).run(), "remapped.csv", content)
    assert mapping_choice(at, "company").value is None
    mapping_choice(at, "company").set_value("labels")
    at.selectbox[1].set_value("email")
    at.radio[0].set_value("append")
    at.run()
    no_exception(at)
    preview = at.dataframe[0].value
    assert list(preview["Labels (labels)"]) == ["Acme", "Globex"]

    import_button(at).click().run()
    no_exception(at)
    assert at.title[0].value == "Upload status"
    assert shown(at.success[0].value) == "Import of remapped.csv started; its progress is below."
    job_id = at.query_params["import"]
    job = wait_for_job_sync(api, job_id)
    assert job["mapping"] == {"firstName": "firstName", "email": "email", "company": "labels"}
    assert job["action"] == "append"
    assert job["counts"]["imported"] == 2
    found = api.get("/customers", params={"email": "rita@example.com"}).json()["items"]
    assert found[0]["labels"] == ["Acme"]


def test_the_check_counts_invalid_new_and_matching_rows_before_importing(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    known = f"known-{tag}@example.com"
    seeded = api.post(
        "/customers/bulkCustomers",
        json={
            "action": "ignore",
            "deduplicationKeys": ["email"],
            "customers": [{"firstName": "Kim", "email": [known]}],
        },
    )
    assert seeded.json()["insertedCount"] == 1
    rows = [["Kim", known], ["Lee", f"lee-{tag}@example.com"], ["Mo", "not-an-email"]]
    at = upload(
        signed_in_app(ui_api.admin_key).run(),
        "checked.csv",
        csv_bytes(["firstName", "email"], rows),
    )
    at.selectbox[1].set_value("email")
    at.run()
    assert not import_button(at).disabled  # Ignore may go ahead unchecked
    next(b for b in at.button if b.label == "Check the file").click().run()
    no_exception(at)
    assert "Checked all 3 rows" in page_text(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"New customers": "1", "Match existing customers": "1", "Invalid rows": "1"}
    (reasons,) = text_tables(at)
    assert [row["Row"] for row in reasons] == ["4"]  # the file's row (the header is 1)
    assert reasons[0]["Reason"].startswith("Invalid email format")
    assert "(rows 4 of the file;" in page_text(at)
    assert api.get("/customers", params={"email": f"lee-{tag}@example.com"}).json()["total"] == 0

    at.radio[0].set_value("replace").run()  # another action: checked again before Replace
    no_exception(at)
    assert "check the file first" in page_text(at)
    assert import_button(at).disabled
    next(b for b in at.button if b.label == "Check the file").click().run()
    confirm = next(c for c in at.checkbox if c.label.startswith("Yes, overwrite"))
    assert confirm.label.startswith("Yes, overwrite 1 existing profiles with the file's rows")
    assert import_button(at).disabled
    confirm.check().run()
    no_exception(at)
    assert not import_button(at).disabled


def test_a_workbook_is_imported_from_the_chosen_sheet(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    content = xlsx_bytes(
        ("Notes", [["nothing", "here"], ["a", "b"]]),
        ("People", [["Vorname", "E-mail"], ["Tina", "tina@example.com"]]),
    )
    at = signed_in_app(ui_api.admin_key).run()
    at.file_uploader(key="csv_file").set_value(("people.xlsx", content, XLSX)).run()
    no_exception(at)
    sheet = next(s for s in at.selectbox if s.label == "Sheet of the workbook")
    assert sheet.options == ["Notes", "People"]
    sheet.set_value("People").run()
    no_exception(at)
    assert "people.xlsx: 2 columns, sheet People" in page_text(at)
    mapping_choice(at, "Vorname").set_value("firstName").run()

    import_button(at).click().run()
    no_exception(at)
    assert "Import of people.xlsx started" in page_text(at)
    newest = api.get("/imports", params={"fileName": "people.xlsx", "limit": 1}).json()
    job = wait_for_job_sync(api, newest["items"][0]["id"])
    assert (job["mapping"], job["counts"]["imported"]) == (
        {"Vorname": "firstName", "E-mail": "email"},
        1,
    )


def test_settings_the_api_rejects_keep_the_user_on_the_page(ui_api: RunningStack) -> None:
    content = csv_bytes(["firstName", "email"], [["Eve", "eve@example.com"]])
    at = upload(signed_in_app(ui_api.admin_key).run(), "no-separator.csv", content)
    at.text_input(key="multi_value_separator").set_value("")
    at.run()
    import_button(at).click().run()
    no_exception(at)
    assert at.title[0].value == "Import customers"
    message = next(shown(e.value) for e in at.error if "not started" in e.value)
    assert message.startswith("The import was not started: Invalid request:")
    assert "multiValueSeparator" in message


# --- upload status page ---------------------------------------------------------------------


def status_page(
    api_key: str, job_id: str, role: str = "admin", key_id: str | None = None
) -> AppTest:
    at = signed_in_app(api_key, role=role, key_id=key_id).run()
    at.session_state["focus_job"] = job_id
    return at.switch_page("status_page.py").run()


def test_completed_upload_shows_counts_errors_and_downloads(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    content = customers_csv(
        [
            ["Cara", "cara@example.com", VALID_PHONES[3]],
            ["Dan", "not-an-email", VALID_PHONES[4]],
        ]
    )
    job_id = start_import(api, "with-errors.csv", content, mapping={"mobile": "phoneNumber"})
    assert wait_for_job_sync(api, job_id)["status"] == "completed"
    at = status_page(ui_api.admin_key, job_id)
    no_exception(at)
    uploads, issues = text_tables(at)
    assert list(uploads[0]) == [
        "File",
        "Created by",
        "Created",
        "Action",
        "Matched by",
        "Status",
        "Rows",
    ]
    assert uploads[0]["File"] == "with-errors.csv"  # newest first
    assert uploads[0]["Status"] == "Completed with errors"  # one row failed
    assert uploads[0]["Created by"] == "admin"
    assert uploads[0]["Matched by"] == "Email"
    assert "with-errors.csv :orange-badge[Completed with errors]" in page_text(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Total": "2", "Imported": "1", "Updated": "0", "Ignored": "0", "Failed": "1"}
    assert [row["Reason"].split(":")[0] for row in issues] == ["Invalid email format"]
    assert [d.label for d in at.get("download_button")] == [
        "Download the Excel report",
        "Download the failed rows (CSV)",
    ]
    assert not [b for b in at.button if b.label == "Cancel this import"]
    assert "Updating by itself" not in page_text(at)


def test_running_upload_refreshes_and_can_be_cancelled(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    # One row per batch makes this import run long enough to be seen and cancelled.
    rows = [[f"Row{n}", f"slow{n}@example.com", ""] for n in range(3000)]
    job_id = start_import(api, "slow.csv", customers_csv(rows), batchSize=1)
    at = status_page(ui_api.admin_key, job_id)
    no_exception(at)
    assert text_tables(at)[0][0]["Status"] in ("Waiting to start", "In progress")
    assert "Updating by itself every 2 seconds" in page_text(at)
    assert at.get("progress")

    next(b for b in at.button if b.label == "Cancel this import").click().run()
    no_exception(at)
    assert "Stop the import of slow.csv?" in page_text(at)
    assert api.get(f"/imports/{job_id}").json()["status"] != "cancelled"  # not before a yes
    next(b for b in at.button if b.label == "Yes, cancel it").click().run()
    no_exception(at)
    assert "Import of slow.csv cancelled" in page_text(at)
    assert api.get(f"/imports/{job_id}").json()["status"] == "cancelled"
    assert text_tables(at)[0][0]["Status"] == "Cancelled"


def test_viewer_sees_a_running_upload_without_cancel(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    rows = [[f"View{n}", f"view{n}@example.com", ""] for n in range(3000)]
    job_id = start_import(api, "watched.csv", customers_csv(rows), batchSize=1)
    key = new_key(api, "Val Viewer", "viewer")
    at = status_page(key, job_id, role="viewer")
    no_exception(at)
    assert "watched.csv" in page_text(at)
    assert not [b for b in at.button if b.label == "Cancel this import"]
    assert api.post(f"/imports/{job_id}/cancel").status_code == 200


def test_an_importer_is_offered_the_actions_on_its_own_imports_only(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    """The API lets only an admin or the key that created an import cancel, resume, retry or
    undo it: the page offers them to that key, and not to another importer."""
    rows = [[f"Own{n}", f"own{n}@example.com", ""] for n in range(3000)]
    owner, other = new_key(api, "Ola Owner", "importer"), new_key(api, "Oz Other", "importer")
    with httpx.Client(base_url=ui_api.api_url, headers={"Authorization": f"Bearer {owner}"}) as own:
        job_id = start_import(own, "owned.csv", customers_csv(rows), batchSize=1)
        owner_id = own.get("/auth/me").json()["keyId"]
    with httpx.Client(base_url=ui_api.api_url, headers={"Authorization": f"Bearer {other}"}) as o:
        other_id = o.get("/auth/me").json()["keyId"]

    def cancel_offered(key: str, key_id: str) -> bool:
        at = status_page(key, job_id, role="importer", key_id=key_id)
        no_exception(at)
        assert "owned.csv" in page_text(at)
        return any(b.label == "Cancel this import" for b in at.button)

    assert not cancel_offered(other, other_id)
    assert cancel_offered(owner, owner_id)
    assert api.post(f"/imports/{job_id}/cancel").status_code == 200


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_undo_asks_for_a_confirmation_then_starts_the_revert(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    content = customers_csv([["Gus", "gus@example.com", ""]])
    job_id = start_import(api, "undo-me.csv", content)
    assert wait_for_job_sync(api, job_id)["status"] == "completed"
    at = status_page(ui_api.admin_key, job_id)
    no_exception(at)

    button(at, "Undo this import").click().run()
    assert "Undo this import? The customers it inserted are deleted" in page_text(at)
    button(at, "Keep the import").click().run()
    assert "Undo this import?" not in page_text(at)
    assert api.get(f"/imports/{job_id}").json()["revertId"] is None

    button(at, "Undo this import").click().run()
    button(at, "Yes, undo the import").click().run()
    no_exception(at)
    assert "Undo of undo-me.csv started" in page_text(at)
    revert_id = api.get(f"/imports/{job_id}").json()["revertId"]
    assert wait_for_job_sync(api, revert_id)["revertCounts"]["deleted"] == 1
    assert api.get("/customers", params={"email": "gus@example.com"}).json()["total"] == 0
    at = status_page(ui_api.admin_key, revert_id)
    assert {m.label: m.value for m in at.metric} == {
        "Customers": "1",
        "Deleted": "1",
        "Restored": "0",
        "Conflicts": "0",
    }
    at = status_page(ui_api.admin_key, job_id)
    assert "Undone by admin on" in page_text(at)
    assert not [b for b in at.button if b.label == "Undo this import"]


# --- the API unreachable --------------------------------------------------------------------


def test_api_down_is_a_readable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    at = signed_in_app("any-key").run()
    no_exception(at)
    assert "cannot be reached" in at.error[0].value


def test_a_cancelled_upload_says_what_was_left_and_is_resumed(
    ui_api: RunningStack, api: httpx.Client
) -> None:
    rows = [[f"Res{n}", f"res{n}@example.com", ""] for n in range(400)]
    job_id = start_import(api, "resumed.csv", customers_csv(rows), batchSize=1)
    assert api.post(f"/imports/{job_id}/cancel").status_code == 200
    deadline = time.monotonic() + 60
    while api.get(f"/imports/{job_id}/report").status_code != 200:  # its batches stopped
        assert time.monotonic() < deadline, "no report for the cancelled import"
        time.sleep(0.2)
    job = api.get(f"/imports/{job_id}").json()
    left = job["progress"]["totalRows"] - job["progress"]["processedRows"]
    at = status_page(ui_api.admin_key, job_id)
    no_exception(at)
    assert f"{left:,} not imported" in " ".join(str(p.proto.text) for p in at.get("progress"))
    button(at, "Resume this import").click().run()
    no_exception(at)
    assert "Import of resumed.csv resumed" in page_text(at)
    resume_id = api.get(f"/imports/{job_id}").json()["resumedBy"]
    assert resume_id and at.query_params["import"] in (resume_id, [resume_id])
    assert api.get(f"/imports/{resume_id}").json()["progress"]["totalRows"] == left
    assert api.post(f"/imports/{resume_id}/cancel").status_code == 200  # spare the machine
