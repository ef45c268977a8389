"""Driving the UI in a real browser (Debian's chromium through Playwright): the browser, the
waits that Streamlit's reruns need, screenshots, and signing in through the sign-in page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.ui_support import REPO

SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous waits: the first page load compiles the app; the import runs in the workers.
PAGE_TIMEOUT_MS = 30_000
IMPORT_TIMEOUT_MS = 120_000
# Every `expect` waits as long as a page may take (its own default, 5 s, failed under load).
expect.set_options(timeout=PAGE_TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def idle(page: Page) -> None:
    """Wait until Streamlit has finished the rerun that the last interaction started."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def shot(page: Page, name: str, streamlit: bool = True) -> None:
    if streamlit:
        idle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def sign_in(page: Page, ui_url: str, api_key: str, screenshot: str | None = None) -> None:
    """Open the UI (which sends a browser without a session to the sign-in page) and sign in."""
    page.goto(ui_url)
    page.get_by_label("API key").wait_for()
    if screenshot:
        shot(page, screenshot, streamlit=False)
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stApp"]').wait_for()
