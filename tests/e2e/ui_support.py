"""Shared pieces of the UI tests (AppTest and browser): the app's path and CSV files."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from streamlit.testing.v1 import AppTest

from tests.helpers import csv_bytes
from ui.markdown import WORD_JOINER

REPO = Path(__file__).resolve().parents[2]
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation
APP_SCRIPT = REPO / "ui" / "app.py"
# Calls go to the real API, and the first run imports pandas and openpyxl.
APP_TIMEOUT_SECONDS = 60

# Valid numbers for phonenumbers' strict check; an identifier belongs to one customer, so
# each test takes its own (the browser journey the first three).
VALID_PHONES = [
    "+12025550143",
    "+14155550132",
    "+13125550178",
    "+16175550111",
    "+17185550122",
]


def new_key(client: httpx.Client, name: str, role: str) -> str:
    response = client.post("/api-keys", json={"name": name, "role": role})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def signed_in_app(
    api_key: str, name: str = "admin", role: str = "admin", key_id: str | None = None
) -> AppTest:
    """The app with a user already signed in (the sign-in form has tests of its own)."""
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=APP_TIMEOUT_SECONDS)
    principal = {"name": name, "role": role, "api_key": api_key, "key_id": key_id}
    at.session_state["principal"] = principal
    return at


def page_text(at: AppTest) -> str:
    """Everything a person reads on the page: titles, text, captions and alerts."""
    parts: list[Any] = [
        *at.title,
        *at.subheader,
        *at.markdown,
        *at.caption,
        *at.info,
        *at.success,
        *at.warning,
        *at.error,
    ]
    return shown("\n".join(str(part.value) for part in parts))


def shown(markdown: str) -> str:
    """Markdown as a person reads it: the escapes of ui.markdown.plain undone."""
    return MARKDOWN_ESCAPE.sub(r"\1", markdown).replace(WORD_JOINER, "")


def customers_csv(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    return csv_bytes(header or ["firstName", "email", "mobile"], rows)


def start_import(api: httpx.Client, name: str, content: bytes, **config: object) -> str:
    """Start an import through the API (deduplicated by email, Ignore unless said); its id."""
    settings = {"deduplicationKeys": ["email"], "action": "ignore", **config}
    response = api.post(
        "/imports",
        files={"file": (name, content, "text/csv")},
        data={"config": json.dumps(settings)},
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


class _TableReader(HTMLParser):
    """The cells of HTML tables as text, and the links they hold."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def text_tables(at: AppTest) -> list[list[dict[str, str]]]:
    """The page's text tables (ui.text_table), each as rows of {header: cell text}."""
    found = []
    for element in at.get("html"):
        reader = _TableReader()
        reader.feed(element.proto.body)
        for header, *rows in (t for t in reader.tables if t):
            found.append([dict(zip(header, row, strict=True)) for row in rows])
    return found
