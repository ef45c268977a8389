"""Automation in a real browser against `python -m stack.run`: a schedule created on the
Schedules page and run now, its import completing on the status page with the schedule's
name; a webhook added on the Webhooks page (its secret shown once) and its test delivery in
the log. The CRM export and the webhook receiver are a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.browser import IMPORT_TIMEOUT_MS, PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack, start_stack
from tests.helpers import csv_bytes
from tests.loopback import Loopback, Served, loopback_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("automation"),
        extra_env={"OUTBOUND_ALLOW_PRIVATE": "true", "RECOVERY_CHECK_SECONDS": "1"},
    )
    yield running
    running.stop()


def open_page(page: Page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    idle(page)


def test_a_schedule_run_now_and_a_webhook_test(
    browser: Browser, stack: RunningStack, web: Loopback
) -> None:
    web.files["/crm/nightly.csv"] = Served(
        csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["Bob", "bob@example.com"]])
    )
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(page, stack.ui_url, stack.admin_key)
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()

    open_page(page, "Schedules")
    page.get_by_label("Name").fill("CRM nightly <b>export</b>")
    page.get_by_label("URL of the export").fill(f"{web.url}/crm/nightly.csv")
    page.get_by_label("Name").press("Tab")
    idle(page)
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_text("Schedule created.")).to_be_visible()
    table = page.locator('[data-testid="schedules"]')
    expect(table).to_contain_text("CRM nightly <b>export</b>")  # as text, never as HTML
    expect(table).to_contain_text("0 2 * * * (UTC)")
    shot(page, "automation-01-schedule-created")

    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("heading", name="Upload status")).to_be_visible()
    expect(page.get_by_text("Completed").first).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    expect(
        page.get_by_text(
            f"From URL: {web.url}/crm/nightly.csv · schedule: CRM nightly <b>export</b>"
        )
    ).to_be_visible()
    shot(page, "automation-02-scheduled-import-completed")

    open_page(page, "Webhooks")
    page.get_by_label("Receiver URL").fill(f"{web.url}/hooks/ui")
    page.get_by_label("Description").fill("CRM")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_text("Copy its signing secret now")).to_be_visible()
    secret = page.locator('[data-testid="stCode"]').inner_text().strip()
    assert secret.startswith("whsec_")
    shot(page, "automation-03-webhook-secret-once")
    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_text("Copy its signing secret now")).to_have_count(0)
    idle(page)  # the rerun's elements replace the last run's
    with stack.client() as api:
        hooks = api.get("/webhooks").json()["items"]
    assert [h["url"] for h in hooks] == [f"{web.url}/hooks/ui"], hooks

    page.get_by_role("button", name="Send test").click()
    idle(page)
    deliveries = page.locator('[data-testid="webhook-deliveries"] tbody tr')
    for _ in range(30):  # the page shows the log as it is: refreshed until delivered
        if "delivered" in (deliveries.first.inner_text() if deliveries.count() else ""):
            break
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Refresh").click()
        idle(page)
    expect(deliveries.first).to_contain_text("webhook.test")
    expect(deliveries.first).to_contain_text("delivered")
    shot(page, "automation-04-webhook-test-delivered")
    message = web.posts_to("/hooks/ui")[0]
    assert Verifier(secret).verify(message.body, message.headers)["type"] == "webhook.test"
