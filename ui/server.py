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

from ui.api_client import TIMEOUT_SECONDS
from ui.links import (
    NEXT_PARAMETER,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    page_after_sign_in,
    sign_in_url,
)
from ui.session import SESSION_COOKIE, api_url

_PAGE = (Path(__file__).with_name("sign_in.html")).read_text()


def _sign_in_page(message: str = "", status_code: int = 200, then: str = "/") -> HTMLResponse:
    notice = f'<p class="notice" role="alert">{html.escape(message)}</p>' if message else ""
    page = _PAGE.replace("{notice}", notice).replace("{next}", html.escape(then, quote=True))
    return HTMLResponse(page, status_code=status_code)


async def sign_in(request: Request) -> Response:
    if request.method == "GET":
        ended = (
            "Your session has ended; sign in again." if request.query_params.get("ended") else ""
        )
        return _sign_in_page(
            ended, then=page_after_sign_in(request.query_params.get(NEXT_PARAMETER))
        )
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    api_key = (form.get("api_key") or [""])[0].strip()
    then = page_after_sign_in((form.get(NEXT_PARAMETER) or [""])[0])
    if not api_key:
        return _sign_in_page("Enter your API key to sign in.", 400, then)
    try:
        async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT_SECONDS) as client:
            answer = await client.post(
                "/auth/sessions", headers={"Authorization": f"Bearer {api_key}"}
            )
    except httpx.HTTPError:
        return _sign_in_page("The API cannot be reached; try again in a moment.", 503, then)
    if answer.status_code == 401:
        return _sign_in_page("That API key was not recognised. Check it and try again.", 401, then)
    if answer.status_code != 201:
        detail = answer.json().get("detail", answer.text)
        return _sign_in_page(f"Signing in failed: {detail}", 502, then)
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
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            async with httpx.AsyncClient(base_url=api_url(), timeout=TIMEOUT_SECONDS) as client:
                await client.delete(
                    "/auth/sessions/current", headers={"Authorization": f"Bearer {token}"}
                )
        except httpx.HTTPError:
            pass  # the cookie goes anyway; the token lapses at its expiry
    response = RedirectResponse(
        sign_in_url(request.query_params.get(NEXT_PARAMETER) or "/"), status_code=303
    )
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


app = st.App(
    Path(__file__).with_name("app.py"),
    routes=[
        Route(SIGN_IN_PATH, sign_in, methods=["GET", "POST"]),
        Route(SIGN_OUT_PATH, sign_out, methods=["GET"]),
    ],
    middleware=[Middleware(SignInFirst)],
)
