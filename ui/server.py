"""The UI's server: Streamlit's app (`ui/app.py`) plus the sign-in and sign-out pages.

Signing in exchanges the API key for a sign-in session of the API; its token is kept in an
HttpOnly, SameSite=Strict cookie, so the session survives a reload and a new tab while no
script, URL or stored page ever holds the key or the token. Both forms (sign in, sign out)
are accepted only from this site's own page: Origin (or Referer) checked, and a CSRF token
(double submit: the form's field equals the browser's cookie). Started as
`streamlit run ui/server.py` (Streamlit serves an `st.App` with its extra routes)."""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from config import get_settings, logs
from ui.api_client import TIMEOUT_SECONDS
from ui.links import (
    NEXT_PARAMETER,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    page_after_sign_in,
    sign_in_url,
)
from ui.session import SESSION_COOKIE, api_url

CSRF_COOKIE = "bcu_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 8192  # a key and a token; anything bigger is not our form
_PAGE = (Path(__file__).with_name("sign_in.html")).read_text()
_SIGN_IN_FORM = """<p>Sign in with your API key.</p>
  <form method="post" action="/signin">
    <input type="hidden" name="csrf_token" value="{token}">
    <input type="hidden" name="next" value="{next}">
    <label for="api_key">API key</label>
    <input id="api_key" name="api_key" type="password" autocomplete="current-password"
           required autofocus>
    <button type="submit">Sign in</button>
  </form>
  <p class="hint">You stay signed in on this browser, across reloads and tabs, until you sign
  out or the session ends. The key itself is not kept by the browser.</p>"""
_SIGN_OUT_FORM = """<p>Sign out of Bulk Customer Upload on this browser?</p>
  <form method="post" action="/signout">
    <input type="hidden" name="csrf_token" value="{token}">
    <button type="submit">Sign out</button>
  </form>
  <p class="hint"><a href="/">Back to the app</a></p>"""
# Printable ASCII without space: every key we issue (and any key a header can carry).
_KEY_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))


class FormRefused(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def _page(
    request: Request, form: str, title: str, message: str = "", status: int = 200
) -> Response:
    """A page with `form` carrying the browser's CSRF token (the cookie's, made when absent:
    double submit, so a page of another site cannot post our forms)."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    notice = f'<p class="notice" role="alert">{html.escape(message)}</p>' if message else ""
    body = _PAGE.replace("{title}", title).replace("{notice}", notice)
    response = HTMLResponse(
        body.replace("{form}", form.replace("{token}", html.escape(token))), status_code=status
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _sign_in_page(
    request: Request, message: str = "", status: int = 200, then: str = "/"
) -> Response:
    """The sign-in form, which returns to `then` (the page asked for) once signed in."""
    form = _SIGN_IN_FORM.replace("{next}", html.escape(then, quote=True))
    return _page(request, form, "Sign in", message, status)


async def _checked_form(request: Request) -> dict[str, str]:
    """The posted form's fields, once it is known to come from our own page: the Origin (or
    Referer) is this site, and its CSRF token is the browser's cookie."""
    sender = request.headers.get("origin") or request.headers.get("referer") or ""
    if urlsplit(sender).netloc != request.headers.get("host"):
        raise FormRefused(
            "This form was not sent from this site's own page, so it was refused. "
            "Use the form below.",
            403,
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefused("The form is too large to be this page's; use the form below.", 413)
    try:
        fields = parse_qs(body.decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        raise FormRefused(
            "The form was not valid UTF-8 text; type or paste the key into the form below.", 400
        ) from None
    given = (fields.get(CSRF_FIELD) or [""])[0]
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        raise FormRefused(
            "This page had expired or was not this site's own; use the form below.", 403
        )
    return {name: values[0] for name, values in fields.items()}


def _key_problem(api_key: str) -> str | None:
    if not api_key:
        return "Enter your API key to sign in."
    if not set(api_key) <= _KEY_CHARACTERS:
        return (
            "An API key is letters, digits and punctuation only: no spaces, accented "
            "letters, line breaks or control characters. Paste exactly the key you were given."
        )
    return None


async def sign_in(request: Request) -> Response:
    if request.method == "GET":
        ended = (
            "Your session has ended; sign in again." if request.query_params.get("ended") else ""
        )
        asked = page_after_sign_in(request.query_params.get(NEXT_PARAMETER))
        return _sign_in_page(request, ended, then=asked)
    try:
        form = await _checked_form(request)
    except FormRefused as refused:
        return _sign_in_page(request, str(refused), refused.status_code)
    then = page_after_sign_in(form.get(NEXT_PARAMETER))
    api_key = form.get("api_key", "").strip()
    problem = _key_problem(api_key)
    if problem:
        return _sign_in_page(request, problem, 400, then)
    # The API limits failed sign-ins per address: it trusts this from the UI's host.
    client_address = request.client.host if request.client else "unknown"
    try:
        async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT_SECONDS) as client:
            answer = await client.post(
                "/auth/sessions",
                headers={"Authorization": f"Bearer {api_key}", "X-Forwarded-For": client_address},
            )
    except httpx.HTTPError:
        return _sign_in_page(
            request, "The API cannot be reached; try again in a moment.", 503, then
        )
    if answer.status_code == 401:
        return _sign_in_page(
            request, "That API key was not recognised. Check it and try again.", 401, then
        )
    if answer.status_code == 429:
        refused = _sign_in_page(request, answer.json().get("detail", answer.text), 429, then)
        refused.headers["Retry-After"] = answer.headers.get("Retry-After", "60")
        return refused
    if answer.status_code != 201:
        detail = answer.json().get("detail", answer.text)
        return _sign_in_page(request, f"Signing in failed: {detail}", 502, then)
    opened = answer.json()
    expires_at = datetime.fromisoformat(opened["expiresAt"].replace("Z", "+00:00"))
    response = RedirectResponse(then, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened["token"],
        max_age=max(0, int((expires_at - datetime.now(UTC)).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def sign_out(request: Request) -> Response:
    """GET asks (a link or another site cannot sign anyone out); the form posts."""
    token = request.cookies.get(SESSION_COOKIE)
    if request.method == "GET":
        if not token:
            return RedirectResponse(SIGN_IN_PATH, status_code=303)
        return _page(request, _SIGN_OUT_FORM, "Sign out")
    try:
        await _checked_form(request)
    except FormRefused as refused:
        return _page(request, _SIGN_OUT_FORM, "Sign out", str(refused), refused.status_code)
    if token:
        try:
            async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT_SECONDS) as client:
                await client.delete(
                    "/auth/sessions/current", headers={"Authorization": f"Bearer {token}"}
                )
        except httpx.HTTPError:
            pass  # the cookie goes anyway; the token lapses at its expiry
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class SignInFirst:
    """A page opened without a session cookie goes to the sign-in page, which returns to it
    (a shared link to an upload survives signing in). Only page loads are redirected
    (Accept: text/html); Streamlit's own requests pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            request = Request(scope)
            is_page = "text/html" in request.headers.get("accept", "")
            if (
                is_page
                and request.url.path not in (SIGN_IN_PATH, SIGN_OUT_PATH)
                and SESSION_COOKIE not in request.cookies
            ):
                asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                await RedirectResponse(sign_in_url(asked), status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


logs.configure(get_settings())  # after Streamlit set up its loggers: they now go through it
app = st.App(
    Path(__file__).with_name("app.py"),
    routes=[
        Route(SIGN_IN_PATH, sign_in, methods=["GET", "POST"]),
        Route(SIGN_OUT_PATH, sign_out, methods=["GET", "POST"]),
    ],
    middleware=[Middleware(SignInFirst)],
)
