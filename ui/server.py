"""The UI's server: Streamlit's app (`ui/app.py`) plus the sign-in and sign-out pages.

Signing in exchanges the API key for a sign-in session of the API; its token is kept in an
HttpOnly, SameSite=Strict cookie, so the session survives a reload and a new tab while no
script, URL or stored page ever holds the key or the token. Started as
`streamlit run ui/server.py` (Streamlit serves an `st.App` with its extra routes)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from config import get_settings, logs
from ui.api_client import TIMEOUT_SECONDS
from ui.session import SESSION_COOKIE, api_url

SIGN_IN_PATH = "/signin"
SIGN_OUT_PATH = "/signout"
_PAGE = (Path(__file__).with_name("sign_in.html")).read_text()


def _sign_in_page(message: str = "", status_code: int = 200) -> HTMLResponse:
    notice = f'<p class="notice" role="alert">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(_PAGE.replace("{notice}", notice), status_code=status_code)


async def sign_in(request: Request) -> Response:
    if request.method == "GET":
        ended = (
            "Your session has ended; sign in again." if request.query_params.get("ended") else ""
        )
        return _sign_in_page(ended)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    api_key = (form.get("api_key") or [""])[0].strip()
    if not api_key:
        return _sign_in_page("Enter your API key to sign in.", 400)
    try:
        async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT_SECONDS) as client:
            answer = await client.post(
                "/auth/sessions", headers={"Authorization": f"Bearer {api_key}"}
            )
    except httpx.HTTPError:
        return _sign_in_page("The API cannot be reached; try again in a moment.", 503)
    if answer.status_code == 401:
        return _sign_in_page("That API key was not recognised. Check it and try again.", 401)
    if answer.status_code != 201:
        return _sign_in_page(f"Signing in failed: {answer.json().get('detail', answer.text)}", 502)
    opened = answer.json()
    expires_at = datetime.fromisoformat(opened["expiresAt"].replace("Z", "+00:00"))
    response = RedirectResponse("/", status_code=303)
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
    token = request.cookies.get(SESSION_COOKIE)
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
    """A page opened without a session cookie goes to the sign-in page. Only page loads are
    redirected (Accept: text/html); Streamlit's own requests pass."""

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
                await RedirectResponse(SIGN_IN_PATH, status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


logs.configure(get_settings())  # after Streamlit set up its loggers: they now go through it
app = st.App(
    Path(__file__).with_name("app.py"),
    routes=[
        Route(SIGN_IN_PATH, sign_in, methods=["GET", "POST"]),
        Route(SIGN_OUT_PATH, sign_out, methods=["GET"]),
    ],
    middleware=[Middleware(SignInFirst)],
)
