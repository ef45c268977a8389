"""The pages after a day of real use (issue 24), in a real browser: a shared link that
survives signing in, checks kept out of the history, planning that says what it does, a
cancelled import resumed, an undo that shows its own progress, filters kept in the URL, and
no text cut off at 1366 × 768 or 390 × 844. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import IMPORT_TIMEOUT_MS, PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import start_import
from tests.helpers import csv_bytes, wait_for_job_sync

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# Text a person must read whole: table cells, headings, metric values, buttons' labels.
CUT_OFF = """(selectors) => {
  const cut = [];
  for (const el of document.querySelectorAll(selectors)) {
    if (el.offsetParent === null) continue;  // not shown
    if (el.scrollWidth > el.clientWidth + 1) cut.push(el.tagName + ': ' + el.innerText);
  }
  return cut;
}"""
READ_WHOLE = (
    "table.bcu-table td, table.bcu-table th, h1, h2, h3, "
    '[data-testid="stMetricValue"] > div, [data-testid="stMetricLabel"] p, '
    '[data-testid="stButton"] button p, [data-testid="stDownloadButton"] button p'
)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # a page's first run compiles the app
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(running_stack: RunningStack, context: BrowserContext) -> Page:
    page = context.new_page()
    sign_in(page, running_stack.ui_url, running_stack.admin_key)
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
    return page


def cut_off(page: Page) -> list[str]:
    idle(page)
    found: list[str] = page.evaluate(CUT_OFF, READ_WHOLE)
    return found


def one_row(tag: str, name: str = "Ann") -> bytes:
    return csv_bytes(["firstName", "email"], [[name, f"{name.lower()}-{tag}@example.com"]])


def wait_for(api: httpx.Client, job_id: str, ready: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + IMPORT_TIMEOUT_MS / 1000
    while True:
        job: dict[str, Any] = api.get(f"/imports/{job_id}").json()
        if ready(job):
            return job
        assert time.monotonic() < deadline, f"{what}: not reached ({job})"
        time.sleep(0.05)


def test_a_shared_link_to_an_upload_survives_signing_in(
    running_stack: RunningStack, context: BrowserContext
) -> None:
    tag = uuid.uuid4().hex[:6]
    with running_stack.client() as api:
        job_id = start_import(api, f"shared-{tag}.csv", one_row(tag))
        wait_for_job_sync(api, job_id)
    page = context.new_page()
    page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
    page.get_by_label("API key").fill(running_stack.admin_key)
    shot(page, "pages-01-sign-in-from-a-shared-link", streamlit=False)
    page.get_by_role("button", name="Sign in").click()
    heading = page.get_by_role("heading", name=re.compile(f"shared-{tag}.csv"))
    expect(heading).to_be_visible()
    assert page.url.endswith(f"/status_page?import={job_id}")
    shot(page, "pages-02-the-linked-upload-after-signing-in")


def test_a_link_to_another_site_is_not_followed_after_signing_in(
    running_stack: RunningStack, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{running_stack.ui_url}/signin?next=//evil.example/")
    page.get_by_label("API key").fill(running_stack.admin_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
    assert page.url.startswith(running_stack.ui_url)


def test_checks_stay_out_of_the_history_and_read_as_checks(
    running_stack: RunningStack, page: Page
) -> None:
    tag = uuid.uuid4().hex[:6]
    content = csv_bytes(
        ["firstName", "email"],
        [["Cy", f"cy-{tag}@example.com"], ["Bad", "not-an-email"]],
    )
    with running_stack.client() as api:
        check_id = start_import(api, f"checked-{tag}.csv", content, dryRun=True)
        wait_for_job_sync(api, check_id)
    page.goto(f"{running_stack.ui_url}/status_page?file=checked-{tag}")
    expect(page.get_by_text("No uploads match these filters.")).to_be_visible()
    page.get_by_text("Show checks (dry runs) too").click()
    uploads = page.get_by_role("table", name="Uploads")
    expect(uploads).to_contain_text(f"checked-{tag}.csv")
    expect(uploads).to_contain_text("Check (Ignore)")
    expect(uploads).to_contain_text("Checked: invalid rows found")
    uploads.get_by_role("link", name=f"checked-{tag}.csv").click()
    expect(page.get_by_role("heading", name=re.compile(f"checked-{tag}.csv"))).to_be_visible()
    metrics = page.locator('[data-testid="stMetricLabel"]')
    expect(metrics.filter(has_text="Would import")).to_be_visible()
    expect(metrics.filter(has_text="Would fail")).to_be_visible()
    expect(page.get_by_text("Rows that would not be imported")).to_be_visible()
    assert page.get_by_text("Fix the failed rows").count() == 0
    assert page.get_by_role("button", name="Undo this import").count() == 0
    shot(page, "pages-03-a-check-reads-as-a-check")


def test_planning_says_what_it_does(running_stack: RunningStack, page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [[f"Plan{n}", f"plan-{tag}-{n}@example.com"] for n in range(100_000)]
    with running_stack.client() as api:
        job_id = start_import(api, f"planned-{tag}.csv", csv_bytes(["firstName", "email"], rows))
        page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
        wait_for(api, job_id, lambda j: j["checkedRows"] > 0, "planning has checked rows")
        with running_stack.workers_paused():
            held = api.get(f"/imports/{job_id}").json()
            assert held["status"] == "pending" and held["checkedRows"] < 100_000, held
            checked = f"{held['checkedRows']:,}"
            expect(
                page.get_by_text(f"Reading and checking the file: {checked} of 100,000 rows")
            ).to_be_visible()
            expect(page.get_by_role("heading", name=re.compile("Reading the file"))).to_be_visible()
            shot(page, "pages-04-planning-reads-and-checks-the-file")
        assert api.post(f"/imports/{job_id}/cancel").status_code == 200  # spare the machine


def test_an_undo_shows_its_own_progress(running_stack: RunningStack, page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [[f"Undo{n}", f"undo-{tag}-{n}@example.com"] for n in range(3_000)]
    with running_stack.client() as api:
        job_id = start_import(api, f"undone-{tag}.csv", csv_bytes(["firstName", "email"], rows))
        wait_for_job_sync(api, job_id, timeout=IMPORT_TIMEOUT_MS / 1000)
        revert_id = api.post(f"/imports/{job_id}/revert").json()["id"]
        page.goto(f"{running_stack.ui_url}/status_page?import={revert_id}")
        wait_for(api, revert_id, lambda j: j["progress"]["processedRows"] > 0, "undo under way")
        with running_stack.workers_paused():
            held = api.get(f"/imports/{revert_id}").json()
            if held["status"] == "in_progress":  # else it ended before the workers stopped
                done = f"{held['progress']['processedRows']:,} of 3,000 customers gone through"
                # .first: a rerun of the refreshing page may still show its old copy.
                expect(page.get_by_text(done).first).to_be_visible()
                expect(page.get_by_text("counted when the undo ends").first).to_be_visible()
                assert page.get_by_role("button", name="Cancel this import").count() == 0
                shot(page, "pages-05-an-undo-under-way")
    heading = page.get_by_role("heading", name=re.compile(f"Undo of undone-{tag}.csv"))
    expect(heading).to_contain_text("Completed", timeout=IMPORT_TIMEOUT_MS)
    # The page refreshes itself: for a moment the previous draw of the line may still be
    # shown beside the new one, with the same words.
    expect(page.get_by_text("3,000 of 3,000 customers gone through").first).to_be_visible()
    shot(page, "pages-06-an-undo-done")


def test_history_filters_stay_in_the_url_and_across_a_reload(
    running_stack: RunningStack, page: Page
) -> None:
    tag = uuid.uuid4().hex[:6]
    with running_stack.client() as api:
        good = start_import(api, f"hist-{tag}-good.csv", one_row(tag, "Gil"))
        bad = start_import(
            api,
            f"hist-{tag}-bad.csv",
            csv_bytes(["firstName", "email"], [["Hal", f"hal-{tag}@example.com"], ["X", "x@"]]),
        )
        wait_for_job_sync(api, good)
        wait_for_job_sync(api, bad)
    page.goto(f"{running_stack.ui_url}/status_page")
    page.get_by_label("File name contains").fill(f"hist-{tag}")
    page.get_by_label("File name contains").press("Enter")
    idle(page)
    page.get_by_role("combobox", name=re.compile("Status")).click()
    page.get_by_role("option", name="Completed with errors").click()
    uploads = page.get_by_role("table", name="Uploads")
    expect(uploads).to_contain_text(f"hist-{tag}-bad.csv")
    expect(uploads).not_to_contain_text(f"hist-{tag}-good.csv")
    assert f"file=hist-{tag}" in page.url and "status=with_errors" in page.url
    page.reload()
    expect(page.get_by_role("table", name="Uploads")).to_contain_text(f"hist-{tag}-bad.csv")
    expect(page.get_by_role("table", name="Uploads")).not_to_contain_text(f"hist-{tag}-good")
    expect(page.get_by_label("File name contains")).to_have_value(f"hist-{tag}")
    # The table is part of the page: it does not scroll in a box of its own.
    box = page.evaluate(
        "() => { const t = document.querySelector('.bcu-table-wrap');"
        " return [t.scrollHeight, t.clientHeight]; }"
    )
    assert box[0] <= box[1] + 1, box
    shot(page, "pages-07-history-filtered-after-a-reload")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366x768", "390x844"])
def test_no_text_is_cut_off(
    running_stack: RunningStack, browser: Browser, viewport: dict[str, int]
) -> None:
    tag = uuid.uuid4().hex[:6]
    long_name = f"customers-export-from-the-crm-{tag}-with-a-long-name.csv"
    content = csv_bytes(
        ["firstName", "email", "phoneNumber"],
        [
            ["Ann", f"ann-{tag}@example.com", "2025550143"],  # no country code: fails
            ["Bob", f"bob-{tag}@example.com", ""],
        ],
    )
    with running_stack.client() as api:
        job_id = start_import(api, long_name, content)
        wait_for_job_sync(api, job_id)
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, running_stack.ui_url, running_stack.admin_key)
        expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
        expect(page.get_by_role("radio", name="Ignore")).to_be_checked()
        assert cut_off(page) == []
        name = f"{viewport['width']}x{viewport['height']}"
        shot(page, f"pages-08-import-page-{name}")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": long_name, "mimeType": "text/csv", "buffer": content}]
        )
        choice = page.get_by_role("combobox", name="Import column email as")
        expect(choice).to_be_visible()
        idle(page)
        # Each row of the mapping table stays across, under its headers.
        header = page.get_by_text("Import as", exact=True).bounding_box()
        email = page.get_by_text("email", exact=True).first.bounding_box()
        box = choice.bounding_box()
        assert header and email and box
        assert abs(header["x"] - box["x"]) < 24, (header, box)
        assert abs(email["y"] + email["height"] / 2 - (box["y"] + box["height"] / 2)) < 40
        shot(page, f"pages-10-mapping-table-{name}")
        page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
        expect(page.get_by_text("Rows not imported")).to_be_visible()
        assert cut_off(page) == []
        shot(page, f"pages-09-status-page-{name}")
    finally:
        context.close()
