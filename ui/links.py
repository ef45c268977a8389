"""Where signing in returns to: the page a person asked for (a shared link to an upload,
`/status_page?import=<id>`), kept through the sign-in page, and never another site."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

SIGN_IN_PATH = "/signin"
SIGN_OUT_PATH = "/signout"
NEXT_PARAMETER = "next"  # the page asked for, opened once signed in


def page_after_sign_in(asked: str | None) -> str:
    """The page to open once signed in: the one asked for when it is a page of this UI (a
    path on this host), else the start page. Anything else could send a person signing in
    to another site."""
    if not asked or not asked.startswith("/") or asked.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(asked)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in asked):
        return "/"
    return asked


def sign_in_url(asked: str) -> str:
    """The sign-in page, told to return to `asked` (a path with its query) afterwards."""
    target = page_after_sign_in(asked)
    return SIGN_IN_PATH if target == "/" else f"{SIGN_IN_PATH}?{NEXT_PARAMETER}={quote(target)}"
