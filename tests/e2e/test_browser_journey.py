"""A new user's whole journey in a real browser (Debian's chromium through Playwright) against
the UI that `python -m stack.run` serves: sign in, upload, fix the mapping, import, watch the
status reach Completed without reloading, download the report. Screenshots of every step go
to test-output/screenshots/."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.browser import (
    IMPORT_TIMEOUT_MS,
    PAGE_TIMEOUT_MS,
    SCREENSHOTS,
    idle,
    shot,
    sign_in,
)
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import VALID_PHONES, customers_csv
from tests.helpers import summary_counts

pytestmark = pytest.mark.e2e

SUMMARY_LABELS = ["Total Records", "Imported", "Updated", "Ignored", "Failed"]


def choose(page: Page, combobox_label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=combobox_label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    idle(page)


def import_button(page: Page) -> Locator:
    return page.locator('[data-testid="stBaseButton-primary"]').filter(has_text="Import")


def run_journey(page: Page, ui_url: str, admin_key: str, api: httpx.Client) -> dict[str, int]:
    """The journey itself; returns the Summary counts of the downloaded report."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    known, new = f"ann-{tag}@example.com", f"ben-{tag}@example.com"
    # Ann is already a customer with another phone: Append adds the file's phone to hers.
    existing = api.post(
        "/customers/bulkCustomers",
        json={
            "action": "ignore",
            "deduplicationKeys": ["email"],
            "customers": [{"firstName": "Ann", "email": [known], "phoneNumber": [VALID_PHONES[2]]}],
        },
    )
    assert existing.json()["insertedCount"] == 1, existing.text
    content = customers_csv([["Ann", known, VALID_PHONES[0]], ["Ben", new, VALID_PHONES[1]]])

    sign_in(page, ui_url, admin_key, screenshot="01-sign-in-form")
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
    # Widgets load after the headings: wait for the last one, the disabled Import button.
    expect(page.get_by_role("radio", name="Ignore")).to_be_checked()
    expect(page.locator('[data-testid="stFileUploaderDropzone"]')).to_be_visible()
    expect(import_button(page)).to_be_disabled()
    shot(page, "02-import-page-before-upload")

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "journey.csv", "mimeType": "text/csv", "buffer": content}]
    )
    expect(page.get_by_role("combobox", name="Import column mobile as")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_be_visible()
    shot(page, "03-csv-uploaded-mapping-suggested")

    choose(page, "Import column mobile as", "Phone Number (phoneNumber)")
    choose(page, "Search for existing customers by", "Email")
    page.locator('[data-testid="stRadio"] label').filter(has_text="Append").click()
    expect(page.get_by_role("radio", name="Append")).to_be_checked()
    idle(page)
    shot(page, "04-mobile-mapped-to-phone-email-append")

    expect(import_button(page)).to_be_enabled()
    import_button(page).click()
    expect(page.get_by_role("heading", name="Upload status")).to_be_visible()
    expect(page.get_by_text("Import of journey.csv started")).to_be_visible()
    shot(page, "05-import-submitted-status-page")

    # No reload from here on: the page has to refresh by itself.
    done = page.get_by_role("heading").filter(has_text="journey.csv").filter(has_text="Completed")
    expect(done).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    shot(page, "06-status-completed-counts-and-downloads")

    with page.expect_download() as download:
        page.get_by_role("button").filter(has_text="Download the Excel report").first.click()
    report = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "journey-report.xlsx"

    ann = api.get("/customers", params={"email": known}).json()["items"]
    assert [c["phoneNumber"] for c in ann] == [[VALID_PHONES[2], VALID_PHONES[0]]]
    return summary_counts(report)


def test_new_user_imports_a_file_and_downloads_the_report(
    running_stack: RunningStack, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        with running_stack.client() as api:
            counts = run_journey(page, running_stack.ui_url, running_stack.admin_key, api)
    finally:
        context.close()
    summary = {label: counts[label] for label in SUMMARY_LABELS}
    assert summary == {"Total Records": 2, "Imported": 1, "Updated": 1, "Ignored": 0, "Failed": 0}
