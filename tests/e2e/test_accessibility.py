"""Every page checked with axe-core (injected by Playwright into real Chromium): no serious or
critical violation. What axe finds of lesser impact is written to
test-output/axe-findings.txt for the record."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import PAGE_TIMEOUT_MS, idle, sign_in
from tests.e2e.conftest import RunningStack
from tests.e2e.ui_support import REPO, start_import
from tests.helpers import csv_bytes, wait_for_job_sync

pytestmark = pytest.mark.e2e

# axe-core as the PyPI package axe-playwright-python ships it (axe.min.js); injected here.
AXE_SCRIPT = files("axe_playwright_python").joinpath("axe.min.js").read_text()
BLOCKING = ("serious", "critical")
FINDINGS = REPO / "test-output" / "axe-findings.txt"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE_SCRIPT)
    results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def _node(node: dict[str, Any]) -> str:
    """Where a violation is: the element's start tag, and axe's figures (colours, ratio)."""
    data = next((check.get("data") for check in node.get("any", []) if check.get("data")), None)
    return f"{node['html'][:100]} {json.dumps(data) if data else ''}".strip()


def summary(name: str, violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{name}: {v['impact']} {v['id']} ({len(v['nodes'])}): {v['help']}\n    "
        + "\n    ".join(_node(n) for n in v["nodes"][:4])
        for v in violations
    ]


@pytest.fixture(scope="module")
def findings() -> Iterator[list[str]]:
    found: list[str] = []
    yield found
    FINDINGS.parent.mkdir(parents=True, exist_ok=True)
    FINDINGS.write_text("\n".join(found) + "\n" if found else "none\n")


@pytest.fixture
def page(running_stack: RunningStack, browser: Browser) -> Iterator[Page]:
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def check(page: Page, name: str, findings: list[str]) -> None:
    violations = axe_violations(page)
    findings.extend(summary(name, violations))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, "\n".join(summary(name, blocking))


def test_the_sign_in_page(running_stack: RunningStack, page: Page, findings: list[str]) -> None:
    page.goto(f"{running_stack.ui_url}/signin")
    page.get_by_label("API key").wait_for()
    check(page, "sign-in", findings)


def test_every_page_of_the_app(
    running_stack: RunningStack, page: Page, findings: list[str]
) -> None:
    tag = uuid.uuid4().hex[:6]
    content = csv_bytes(
        ["firstName", "email"], [["Axe", f"axe-{tag}@example.com"], ["Bad", "not-an-email"]]
    )
    with running_stack.client() as api:
        job_id = start_import(api, f"axe-{tag}.csv", content)
        wait_for_job_sync(api, job_id)
    sign_in(page, running_stack.ui_url, running_stack.admin_key)
    expect(page.get_by_role("radio", name="Ignore")).to_be_checked()
    check(page, "import page", findings)

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": f"axe-{tag}.csv", "mimeType": "text/csv", "buffer": content}]
    )
    expect(page.get_by_role("button", name="Check the file")).to_be_visible()
    idle(page)
    check(page, "import page with a file", findings)

    page.goto(f"{running_stack.ui_url}/status_page?import={job_id}")
    expect(page.get_by_role("heading", name=re.compile(f"axe-{tag}.csv"))).to_be_visible()
    expect(page.get_by_text("Rows not imported")).to_be_visible()
    check(page, "status page", findings)

    for path, heading in (
        ("schedules_page", "Schedules"),
        ("webhooks_page", "Webhooks"),
        ("customers_page", "Customer lookup"),
        ("audit_page", "Audit"),
        ("schema_page", "Customer schema"),
        ("keys_page", "API keys"),
        ("mappings_page", "Remembered mappings"),
    ):
        page.goto(f"{running_stack.ui_url}/{path}")
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        idle(page)
        check(page, path.replace("_", " "), findings)
