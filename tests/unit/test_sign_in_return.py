"""Signing in returns to the page asked for (ui.links), and never to another site."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ui.links import page_after_sign_in, sign_in_url

UI = "http://ui.example:8501/"


def test_a_shared_link_to_an_upload_is_kept() -> None:
    assert page_after_sign_in("/status_page?import=6b1218ec") == "/status_page?import=6b1218ec"
    url = sign_in_url("/status_page?import=6b1218ec")
    assert parse_qs(urlsplit(url).query) == {"next": ["/status_page?import=6b1218ec"]}


def test_the_start_page_needs_no_return() -> None:
    assert sign_in_url("/") == "/signin"


def test_other_sites_and_odd_values_go_to_the_start_page() -> None:
    for asked in [
        None,
        "",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "status_page",
    ]:
        assert page_after_sign_in(asked) == "/"


@given(st.text())
def test_whatever_is_asked_the_return_stays_on_this_host(asked: str) -> None:
    target = page_after_sign_in(asked)
    assert target.startswith("/")
    opened = urlsplit(urljoin(UI, target.replace("\\", "/")))
    assert (opened.scheme, opened.netloc) == ("http", "ui.example:8501")
