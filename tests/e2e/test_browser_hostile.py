"""Hostile pages and files against the UI in a real browser: another site's form that would
sign the visitor in as the attacker (login CSRF) is refused, and Markdown or HTML in a file
name, a column header and a value is shown as text, with nothing fetched."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Request, expect

from tests.e2e.browser import PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import new_key
from tests.helpers import csv_bytes
from tests.loopback import Served, loopback_server
from ui.markdown import WORD_JOINER

pytestmark = pytest.mark.e2e


def test_another_sites_form_cannot_sign_the_visitor_in(
    running_stack: RunningStack, browser: Browser
) -> None:
    with running_stack.client() as api:
        attacker_key = new_key(api, "Mallory", "importer")
    attack = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{running_stack.ui_url}/signin">
  <input name="api_key" value="{attacker_key}"><input name="csrf_token" value="guessed">
</form><script>document.getElementById("f").submit()</script>"""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    try:
        with loopback_server() as site:
            site.files["/attack.html"] = Served(attack.encode())
            # Another site: "localhost" is not the UI's 127.0.0.1.
            other_site = site.url.replace("127.0.0.1", "localhost")
            page.goto(f"{other_site}/attack.html")
            expect(page.get_by_role("alert")).to_contain_text("was refused")
            shot(page, "hostile-01-login-csrf-refused", streamlit=False)
        assert not [c for c in context.cookies() if c["name"] == "bcu_session"]
        page.goto(running_stack.ui_url)
        expect(page.get_by_label("API key")).to_be_visible()  # not signed in as Mallory
    finally:
        context.close()


def test_markdown_and_html_from_a_file_show_as_text_and_load_nothing(
    running_stack: RunningStack, browser: Browser
) -> None:
    tag = uuid.uuid4().hex[:8]
    with loopback_server() as tracker, running_stack.client() as api:
        key = new_key(api, "Ida Importer", "importer")
        file_name = f"![f{tag}](pixel-file.png).csv"
        header = f"![h{tag}]({tracker.url}/pixel-header.png)"
        value = f'<img src="{tracker.url}/pixel-html.png"> ![v{tag}]({tracker.url}/pixel-value.png)'
        content = csv_bytes(["firstName", "email", header], [["Ann", f"a{tag}@example.com", value]])
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        fetched: list[str] = []

        def record(request: Request) -> None:
            if "pixel" in request.url:
                fetched.append(request.url)

        page.on("request", record)
        try:
            sign_in(page, running_stack.ui_url, key)
            expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                files=[{"name": file_name, "mimeType": "text/csv", "buffer": content}]
            )
            preview = page.locator('[data-testid="stDataFrame"]')
            expect(preview).to_be_visible(timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_text(f"{file_name}: 3 columns")).to_be_visible()
            # The column's name and its sample value, as written (bare URLs kept from being
            # made links by an invisible word joiner).
            for text in (header, value):
                shown = text.replace("://", f":{WORD_JOINER}//")
                expect(page.get_by_text(shown, exact=True)).to_be_visible()
            assert page.locator("a[href*='pixel']").count() == 0
            idle(page)
            shot(page, "hostile-02-markdown-in-file-shown-as-text")
            page.get_by_role("button", name="Import", exact=True).click()
            expect(page.get_by_role("heading").filter(has_text=file_name)).to_be_visible()
            idle(page)
            shot(page, "hostile-03-markdown-file-name-on-status-page")
            assert page.locator("img[src*='pixel']").count() == 0
        finally:
            context.close()
        assert fetched == [], fetched
        assert tracker.gets == []
