"""Administration in a real browser against `python -m stack.run` (issue 25): an attribute
created from the mapping step and imported into; the schema page editing a label and showing
the version's diff; an API key created, copied, used and revoked (the UI signed in with it
is sent to sign in on its next action); an importer sees no admin page. The stack is this
module's own: the schema changes here must not reach other tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import IMPORT_TIMEOUT_MS, PAGE_TIMEOUT_MS, idle, shot, sign_in
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.ui_support import new_key
from tests.helpers import csv_bytes

pytestmark = pytest.mark.e2e
ADMIN_PAGES = ["Webhooks", "Audit", "Customer schema", "API keys", "Remembered mappings"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("admin"))
    yield running
    running.stop()


def new_page(browser: Browser) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    return page


def open_page(page: Page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    idle(page)


def upload(page: Page, name: str, content: bytes) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )
    idle(page)


def test_an_admin_creates_an_attribute_from_the_mapping_step_and_imports_into_it(
    browser: Browser, stack: RunningStack
) -> None:
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    content = csv_bytes(["firstName", "email", "company"], [["Ann", email, "Acme <b>Ltd</b>"]])
    page = new_page(browser)
    sign_in(page, stack.ui_url, stack.admin_key)
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    upload(page, "company.csv", content)
    page.get_by_text("Create a new attribute from column 3").click()
    expect(page.get_by_label("Key")).to_have_value("company", timeout=PAGE_TIMEOUT_MS)
    expect(page.get_by_label("Label")).to_have_value("company", timeout=PAGE_TIMEOUT_MS)
    page.get_by_label("Label").fill("Company")
    shot(page, "admin-01-new-attribute-from-column")
    page.get_by_role("button", name="Create attribute").click()
    expect(page.get_by_text("Attribute company created; the column now maps to it.")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    expect(page.get_by_role("combobox", name="Import column company as")).to_have_value(
        "Company (company)", timeout=PAGE_TIMEOUT_MS
    )
    shot(page, "admin-02-column-mapped-to-new-attribute")
    page.locator('[data-testid="stBaseButton-primary"]').filter(has_text="Import").click()
    expect(page.get_by_role("heading", name="Upload status")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    done = page.get_by_role("heading").filter(has_text="company.csv").filter(has_text="Completed")
    expect(done).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    with stack.client() as api:
        stored = api.get("/customers", params={"email": email}).json()["items"]
    assert [c["company"] for c in stored] == ["Acme <b>Ltd</b>"]


def test_the_schema_page_edits_a_label_and_shows_the_version_diff(
    browser: Browser, stack: RunningStack
) -> None:
    page = new_page(browser)
    sign_in(page, stack.ui_url, stack.admin_key)
    open_page(page, "Customer schema")
    attribute = page.get_by_role("combobox", name="Attribute")
    attribute.click()
    page.get_by_role("option", name="city", exact=True).click()
    idle(page)
    form = page.locator('[data-testid="stForm"]').filter(has_text="Save attribute")
    # The rerun that the choice starts may begin after idle() returned, and shows the old
    # form beside the new one until it ends (seconds on a loaded machine): wait for city's
    # form, then for that rerun to end, then for city's form alone.
    expect(form.locator('input[aria-label="Label"][value="City"]')).to_have_count(
        1, timeout=PAGE_TIMEOUT_MS
    )
    idle(page)
    label = form.get_by_label("Label", exact=True)
    expect(label).to_have_count(1, timeout=PAGE_TIMEOUT_MS)
    expect(label).to_have_value("City")
    label.fill("Town")
    expect(label).to_have_value("Town")
    form.get_by_role("button", name="Save attribute").click()
    expect(page.get_by_text("Schema saved as a new version.")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    expect(page.get_by_text("city: label 'City' → 'Town'")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    expect(page.locator('[data-testid="schema-attributes"]').last).to_contain_text(
        "Town", timeout=PAGE_TIMEOUT_MS
    )
    shot(page, "admin-03-schema-label-edited-version-diff")
    with stack.client() as api:
        versions = api.get("/record-types/customers/schema/versions").json()["items"]
    assert versions[0]["diff"]["changed"] == [
        {"key": "city", "fields": {"label": {"before": "City", "after": "Town"}}}
    ]


def test_a_key_is_created_copied_used_and_revoked(browser: Browser, stack: RunningStack) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin = context.new_page()
    admin.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(admin, stack.ui_url, stack.admin_key)
    open_page(admin, "API keys")
    admin.get_by_label("Name").fill("Kim <i>script</i>")
    admin.get_by_role("combobox", name="Role").click()
    admin.get_by_role("option", name="importer", exact=True).click()
    admin.get_by_role("button", name="Create key").click()
    code = admin.locator('[data-testid="stCode"]')
    keys_table = admin.locator('[data-testid="api-keys"]').last
    expect(code).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    shown = code.inner_text().strip()
    code.hover()
    code.locator("button").first.click()
    copied = admin.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == shown
    shot(admin, "admin-04-key-created-shown-once")
    admin.get_by_role("button", name="I have copied it").click()
    expect(code).to_have_count(0, timeout=PAGE_TIMEOUT_MS)
    expect(keys_table).to_contain_text("Kim <i>script</i>", timeout=PAGE_TIMEOUT_MS)

    used = httpx.get(
        f"{stack.api_url}/imports", headers={"Authorization": f"Bearer {copied.strip()}"}
    )
    assert used.status_code == 200
    other = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    other.set_default_timeout(PAGE_TIMEOUT_MS)
    sign_in(other, stack.ui_url, copied.strip())
    expect(other.get_by_role("heading", name="Import customers")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )

    admin.reload()
    idle(admin)
    expect(keys_table).not_to_contain_text("never", timeout=PAGE_TIMEOUT_MS)
    admin.get_by_role("button", name="Revoke").click()
    admin.get_by_role("button", name="Yes, revoke it").click()
    expect(admin.get_by_text("Key revoked.")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    shot(admin, "admin-05-key-revoked")
    assert (
        httpx.get(
            f"{stack.api_url}/imports", headers={"Authorization": f"Bearer {copied.strip()}"}
        ).status_code
        == 401
    )

    other.get_by_role("link", name="Upload status").click()
    expect(other.get_by_text("You are not signed in, or your session has ended.")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    other.get_by_role("link", name="Sign in").click()
    expect(other.get_by_label("API key")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    context.close()


def test_an_importer_sees_no_admin_page_and_is_told_to_ask_an_admin(
    browser: Browser, stack: RunningStack
) -> None:
    with stack.client() as api:
        key = new_key(api, "Ida", "importer")
    page = new_page(browser)
    sign_in(page, stack.ui_url, key)
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    for name in ADMIN_PAGES:
        expect(page.get_by_role("link", name=name)).to_have_count(0, timeout=PAGE_TIMEOUT_MS)
    upload(
        page, "extra.csv", csv_bytes(["firstName", "email", "shoe size"], [["A", "a@x.io", "9"]])
    )
    expect(page.get_by_text("Ask an admin to add this attribute")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    expect(page.get_by_text("Create a new attribute from column 3")).to_have_count(
        0, timeout=PAGE_TIMEOUT_MS
    )
    shot(page, "admin-06-importer-asks-an-admin")
