"""Operations in a real browser against `python -m stack.run`: the Customer lookup finds a
customer by email and shows its profile and its history (imported, replaced, the replace
reverted) with links to the imports; the Audit page lists the revert and a hostile key name
as plain text, filtered by action; a viewer gets no Audit page."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack
from tests.helpers import csv_bytes, wait_for_job_sync

pytestmark = pytest.mark.e2e

HEADER = ["firstName", "email", "city"]
HOSTILE = "<b>Mallory</b> **bold**"


def choose(page: Page, combobox_label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=combobox_label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    idle(page)


def open_page(page: Page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    idle(page)


def test_customer_lookup_with_history_and_the_audit_page(
    browser: Browser, running_stack: RunningStack
) -> None:
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    with running_stack.client() as api:
        jobs = []
        for city, action in (("Boston", "ignore"), ("Denver", "replace")):
            created = api.post(
                "/imports",
                files={"file": ("ann.csv", csv_bytes(HEADER, [["Ann", email, city]]), "text/csv")},
                data={"config": json.dumps({"deduplicationKeys": ["email"], "action": action})},
            )
            assert created.status_code == 202, created.text
            jobs.append(wait_for_job_sync(api, created.json()["id"]))
        revert = api.post(f"/imports/{jobs[1]['id']}/revert")
        assert revert.status_code == 202, revert.text
        wait_for_job_sync(api, revert.json()["id"])
        viewer_key = api.post("/api-keys", json={"name": HOSTILE, "role": "viewer"}).json()["key"]

    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(page, running_stack.ui_url, running_stack.admin_key)
    open_page(page, "Customer lookup")
    page.get_by_label("Value").fill(email)
    page.get_by_label("Value").press("Enter")
    idle(page)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    profile = page.locator('[data-testid="customer-profile"]')
    history = page.locator('[data-testid="customer-history"]')
    expect(profile).to_contain_text("Boston")
    expect(profile.locator("a")).to_have_count(0)  # an address is text, not a link
    expect(history).to_contain_text("restored")
    expect(history).to_contain_text("city: Denver → Boston")
    expect(history).to_contain_text("city: Boston → Denver")
    expect(history).to_contain_text("imported")
    shot(page, "operations-01-customer-history")
    page.get_by_role("link", name=f"Open the replace import {jobs[1]['id']}").click()
    expect(page.get_by_role("heading", name="Upload status")).to_be_visible()
    expect(page).to_have_url(f"{running_stack.ui_url}/status_page?import={jobs[1]['id']}")

    open_page(page, "Audit")
    table = page.locator('[data-testid="audit-events"]')
    expect(table).to_contain_text(HOSTILE)  # as text, never as HTML or Markdown
    choose(page, "Action", "import.reverted")
    expect(table).to_contain_text(f"import {jobs[1]['id']}")
    expect(table).not_to_contain_text("key.created")
    shot(page, "operations-02-audit")
    page.close()

    viewer = browser.new_page(viewport={"width": 1400, "height": 900})
    viewer.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(viewer, running_stack.ui_url, viewer_key)
    expect(viewer.get_by_role("link", name="Customer lookup")).to_be_visible()
    expect(viewer.get_by_role("link", name="Audit")).to_have_count(0)
    viewer.close()
