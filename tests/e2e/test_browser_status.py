"""The status and import pages in a real browser, as a support agent uses them: open an
upload from a link, page back to an old upload and find it by name, check a file before
importing (invalid rows, new and matching customers), a Replace that asks first, and counts
that move while a 20,000-row import runs, and a cancel that asks first, leaves the
report of what the import did, and is resumed. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import IMPORT_TIMEOUT_MS, PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import start_import
from tests.helpers import csv_bytes, summary_counts, wait_for_job_sync

pytestmark = pytest.mark.e2e


@pytest.fixture
def page(running_stack: RunningStack, browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, running_stack.ui_url, running_stack.admin_key)
    yield page
    context.close()


def metric(page: Page, label: str) -> int:
    value = (
        page.locator('[data-testid="stMetric"]')
        .filter(has_text=label)
        .locator('[data-testid="stMetricValue"]')
    )
    return int(value.inner_text().replace(",", ""))


def test_an_old_upload_is_found_by_paging_by_name_and_by_link(
    running_stack: RunningStack, page: Page
) -> None:
    tag = uuid.uuid4().hex[:6]
    one_row = csv_bytes(["firstName", "email"], [["Old", f"old-{tag}@example.com"]])
    with running_stack.client() as api:
        ancient = start_import(api, f"ancient-{tag}.csv", one_row)
        wait_for_job_sync(api, ancient)
        for n in range(25):  # one after another: a key runs at most 5 imports at a time
            wait_for_job_sync(api, start_import(api, f"newer-{tag}-{n:02d}.csv", one_row))

    page.goto(f"{running_stack.ui_url}/status_page")
    expect(page.get_by_role("heading", name="Upload status")).to_be_visible()
    table = page.get_by_role("table", name="Uploads")
    expect(page.get_by_text(re.compile(r"Uploads 1–25 of [\d,]+ · page 1 of"))).to_be_visible()
    page.get_by_role("button", name="Older").click()
    idle(page)
    expect(page.get_by_text(re.compile(r"Uploads 26–"))).to_be_visible()
    shot(page, "status-01-second-page-of-uploads")

    page.get_by_label("File name contains").fill(f"ancient-{tag}")
    page.get_by_label("File name contains").press("Enter")
    expect(page.get_by_text("Uploads 1–1 of 1 · page 1 of 1")).to_be_visible()
    expect(table).to_contain_text(f"ancient-{tag}.csv")
    shot(page, "status-02-found-by-name")

    page.goto(f"{running_stack.ui_url}/status_page?import={ancient}")
    expect(page.get_by_role("heading", name=re.compile(f"ancient-{tag}.csv"))).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name=re.compile(f"ancient-{tag}.csv"))).to_be_visible()
    shot(page, "status-03-opened-by-link")


def test_the_check_before_importing_and_a_replace_that_asks_first(
    running_stack: RunningStack, page: Page
) -> None:
    tag = uuid.uuid4().hex[:6]
    known = f"kim-{tag}@example.com"
    with running_stack.client() as api:
        api.post(
            "/customers/bulkCustomers",
            json={
                "action": "ignore",
                "deduplicationKeys": ["email"],
                "customers": [{"firstName": "Kim", "email": [known], "city": "Rome"}],
            },
        ).raise_for_status()
    content = csv_bytes(
        ["firstName", "email", "city"],
        [["Kim", known, "Paris"], ["Lee", f"lee-{tag}@example.com", "Oslo"], ["Mo", "nope", ""]],
    )
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": f"check-{tag}.csv", "mimeType": "text/csv", "buffer": content}]
    )
    expect(page.get_by_role("button", name="Check the file")).to_be_visible()
    page.locator('[data-testid="stRadio"] label').filter(has_text="Replace").click()
    idle(page)
    import_button = page.locator('[data-testid="stBaseButton-primary"]').filter(has_text="Import")
    expect(import_button).to_be_disabled()  # Replace: not before the check
    page.get_by_role("button", name="Check the file").click()
    # .first: a rerun may still show its old copy beside the new one.
    expect(page.get_by_text("Checked all 3 rows").first).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    assert (
        metric(page, "New customers"),
        metric(page, "Match existing"),
        metric(page, "Invalid rows"),
    ) == (1, 1, 1)
    expect(page.get_by_text("Invalid email format: 'nope'")).to_be_attached()  # a grid cell
    confirm = page.get_by_text("Yes, overwrite 1 existing profiles")
    expect(confirm).to_be_visible()
    expect(import_button).to_be_disabled()
    confirm.scroll_into_view_if_needed()
    shot(page, "import-01-checked-replace-asks-first")
    confirm.click()
    idle(page)
    expect(import_button).to_be_enabled()
    with running_stack.client() as api:
        assert api.get("/customers", params={"email": known}).json()["items"][0]["city"] == "Rome"


def wait_for_rows(api: httpx.Client, job_id: str) -> None:
    """Until the import has processed its first rows (here 20,000 rows take about as long
    as two of the page's refreshes, so the tests below hold the workers still from then)."""
    deadline = time.monotonic() + IMPORT_TIMEOUT_MS / 1000
    while not api.get(f"/imports/{job_id}").json()["progress"]["processedRows"]:
        assert time.monotonic() < deadline, f"import {job_id} processed nothing"
        time.sleep(0.05)


def test_counts_move_while_a_20000_row_import_runs(running_stack: RunningStack, page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [[f"Live{n}", f"live-{tag}-{n}@example.com"] for n in range(20_000)]
    with running_stack.client() as api:
        job_id = start_import(
            api, f"live-{tag}.csv", csv_bytes(["firstName", "email"], rows), batchSize=500
        )
        page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
        # .first: a rerun shows the old heading beside the new one for a moment.
        heading = page.get_by_role("heading", name=re.compile(f"live-{tag}.csv")).first
        expect(heading).to_be_visible()
        wait_for_rows(api, job_id)
        with running_stack.workers_paused():
            time.sleep(0.5)  # the writes already sent land
            held = api.get(f"/imports/{job_id}").json()
            imported = held["counts"]["imported"]
            assert held["status"] == "in_progress" and 0 < imported < 20_000, held
            processed = f"{held['progress']['processedRows']:,} of 20,000 rows processed"
            pace = page.get_by_text(re.compile(rf"^{processed} · [\d,]+ rows/s · about .* left"))
            expect(pace).to_be_visible()  # the page's next refresh shows where it stands
            imported_value = (
                page.locator('[data-testid="stMetric"]')
                .filter(has_text="Imported")
                .locator('[data-testid="stMetricValue"]')
            )
            expect(imported_value).to_have_text(f"{imported:,}")
            shot(page, "status-04-running-with-live-counts")
    seen = [imported]
    while "Completed" not in heading.inner_text():
        seen.append(metric(page, "Imported"))
        page.wait_for_timeout(700)
    expect(heading).to_contain_text("Completed", timeout=IMPORT_TIMEOUT_MS)
    assert seen == sorted(seen), seen  # counts only go up
    # .first: the rerun that drew the completed page may still show its old copy beside it.
    expect(page.get_by_text("20,000 of 20,000 rows processed").first).to_be_visible()
    shot(page, "status-05-completed")


def test_a_cancelled_import_asks_first_keeps_its_report_and_is_resumed(
    running_stack: RunningStack, page: Page
) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [[f"Stop{n}", f"stop-{tag}-{n}@example.com"] for n in range(20_000)]
    with running_stack.client() as api:
        job_id = start_import(
            api, f"stopped-{tag}.csv", csv_bytes(["firstName", "email"], rows), batchSize=200
        )
        page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
        heading = page.get_by_role("heading", name=re.compile(f"stopped-{tag}.csv"))
        expect(heading).to_contain_text("In progress", timeout=IMPORT_TIMEOUT_MS)
        wait_for_rows(api, job_id)
        with running_stack.workers_paused():  # the cancel lands mid-import, however fast
            held = api.get(f"/imports/{job_id}").json()
            assert held["progress"]["processedRows"] < 20_000, held
            page.get_by_role("button", name="Cancel this import").click()
            expect(page.get_by_text(f"Stop the import of stopped-{tag}.csv?")).to_be_visible()
            shot(page, "status-06-cancel-asks-first")
            page.get_by_role("button", name="Yes, cancel it").click()
            expect(heading).to_contain_text("Cancelled", timeout=PAGE_TIMEOUT_MS)
    # .first: a rerun of the refreshing page may still show its old copy beside the new one.
    download = page.get_by_role("button").filter(has_text="Download the Excel report").first
    expect(download).to_be_visible(timeout=IMPORT_TIMEOUT_MS)  # comes by itself, no reload
    shot(page, "status-07-cancelled-with-its-report")
    with page.expect_download() as saved:
        download.click()
    summary = summary_counts(Path(saved.value.path()).read_bytes())
    with running_stack.client() as api:
        job = api.get(f"/imports/{job_id}").json()
    assert job["status"] == "cancelled"
    assert summary["Imported"] == job["counts"]["imported"] < 20_000
    processed = job["progress"]["processedRows"]
    assert summary["Cancelled"].startswith(f"{processed:,} of 20,000 rows processed")
    left = f"{processed:,} of 20,000 rows processed · {20_000 - processed:,} not imported"
    expect(page.get_by_text(left).first).to_be_visible()  # .first: as above, a rerun's copy

    # Resumed: the rows it did not process, as a new upload linked to it.
    page.get_by_role("button", name="Resume this import").click()
    expect(page.get_by_role("table", name="Linked uploads")).to_contain_text("Resumes")
    expect(heading).to_contain_text("Completed", timeout=IMPORT_TIMEOUT_MS)
    shot(page, "status-08-the-resume-completed")
    with running_stack.client() as api:
        resume_id = api.get(f"/imports/{job_id}").json()["resumedBy"]
        resume = wait_for_job_sync(api, resume_id)
    assert resume["resumeOf"] == job_id
    assert resume["counts"]["imported"] + job["counts"]["imported"] == 20_000
