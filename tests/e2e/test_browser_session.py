"""Signing in, in a real browser: the session survives a reload and a new tab, the browser's
scripts cannot read its token, the key is never in a URL, and signing out ends the session
(the old token is refused by the API afterwards)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import PAGE_TIMEOUT_MS, shot, sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import new_key

pytestmark = pytest.mark.e2e


def test_a_session_survives_reload_and_new_tab_until_sign_out(
    running_stack: RunningStack, browser: Browser
) -> None:
    with running_stack.client() as api:
        key = new_key(api, "Ida Importer", "importer")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page, running_stack.ui_url, key, screenshot="session-01-sign-in-page")
        heading = page.get_by_role("heading", name="Import customers")
        expect(heading).to_be_visible()
        expect(page.get_by_text("Signed in as Ida Importer (importer)")).to_be_visible()
        assert key not in page.url

        page.reload()
        expect(heading).to_be_visible()
        shot(page, "session-02-after-reload-still-signed-in")

        other_tab = context.new_page()
        other_tab.goto(running_stack.ui_url)
        expect(other_tab.get_by_role("heading", name="Import customers")).to_be_visible()
        other_tab.close()

        (cookie,) = [c for c in context.cookies() if c["name"] == "bcu_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["value"] not in page.evaluate("document.cookie")
        assert key != cookie["value"]
        token = cookie["value"]
        me = httpx.get(
            f"{running_stack.api_url}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json() == {
            "name": "Ida Importer",
            "role": "importer",
            "keyId": hashlib.sha256(key.encode()).hexdigest()[:16],
        }

        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Sign out").click()
        page.get_by_role("button", name="Sign out").click()  # the form, with its CSRF token
        expect(page.get_by_label("API key")).to_be_visible()
        shot(page, "session-03-signed-out", streamlit=False)
        page.goto(running_stack.ui_url)
        expect(page.get_by_label("API key")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "bcu_session"]
        refused = httpx.get(
            f"{running_stack.api_url}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401
    finally:
        context.close()


def test_a_wrong_key_stays_on_the_sign_in_page_with_a_reason(
    running_stack: RunningStack, browser: Browser
) -> None:
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(running_stack.ui_url)
        page.get_by_label("API key").fill("not-a-real-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text(
            "That API key was not recognised. Check it and try again."
        )
        shot(page, "session-04-wrong-key", streamlit=False)
        assert not [c for c in context.cookies() if c["name"] == "bcu_session"]  # a CSRF one only
    finally:
        context.close()
