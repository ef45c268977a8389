"""The UI's sign-in and sign-out forms against hostile requests, on the UI's own routes and a
real API process: a form posted by another site (login CSRF), keys no API could issue
(non-ASCII, CR LF, NUL, invalid UTF-8), and someone guessing keys. Each gets a clear 4xx
page, never a 500 or "the API cannot be reached", and no session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from stack.processes import Child, stop_all
from tests.helpers import start_api

UI = "http://ui.test"
SAME_SITE = {"Origin": UI}


@pytest.fixture(scope="module")
def guarded_api(workdir: Path, worker_env: dict[str, str]) -> Iterator[str]:
    """An API that lets an address fail two sign-ins, then one a minute."""
    env = {**worker_env, "AUTH_FAILURE_BURST": "2", "AUTH_FAILURES_PER_MINUTE": "1"}
    child: Child
    child, url = start_api(env, workdir / "guarded-api.log")
    yield url
    stop_all([child])


def _browser(guarded_api: str, monkeypatch: pytest.MonkeyPatch) -> httpx.AsyncClient:
    """The UI's sign-in routes, reached from a browser address of its own."""
    from ui.server import SIGN_IN_PATH, SIGN_OUT_PATH, sign_in, sign_out

    monkeypatch.setenv("API_URL", guarded_api)
    app = Starlette(
        routes=[
            Route(SIGN_IN_PATH, sign_in, methods=["GET", "POST"]),
            Route(SIGN_OUT_PATH, sign_out, methods=["GET", "POST"]),
        ]
    )
    transport = httpx.ASGITransport(app=app, client=(f"browser-{uuid.uuid4().hex}", 50000))
    return httpx.AsyncClient(transport=transport, base_url=UI)


@pytest.fixture
async def ui(
    guarded_api: str, database: object, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with _browser(guarded_api, monkeypatch) as client:
        yield client


async def _csrf_token(ui: httpx.AsyncClient) -> str:
    page = await ui.get("/signin")
    assert page.status_code == 200
    token = ui.cookies["bcu_csrf"]
    assert f'name="csrf_token" value="{token}"' in page.text
    return token


async def _sign_in(ui: httpx.AsyncClient, key: str, **extra: Any) -> httpx.Response:
    form = {"csrf_token": await _csrf_token(ui), "api_key": key}
    return await ui.post("/signin", data=form, headers=SAME_SITE, **extra)


async def test_a_sign_in_form_posted_by_another_site_is_refused(ui, admin_headers) -> None:
    key = admin_headers["Authorization"][7:]
    token = await _csrf_token(ui)
    attempts = [
        ({"Origin": "http://evil.example"}, {"csrf_token": token, "api_key": key}),
        ({"Origin": "null"}, {"csrf_token": token, "api_key": key}),
        ({"Referer": "http://evil.example/page"}, {"csrf_token": token, "api_key": key}),
        ({}, {"csrf_token": token, "api_key": key}),  # neither Origin nor Referer
        (SAME_SITE, {"api_key": key}),  # no token
        (SAME_SITE, {"csrf_token": "forged", "api_key": key}),
    ]
    for headers, form in attempts:
        refused = await ui.post("/signin", data=form, headers=headers)
        assert refused.status_code == 403, (headers, form, refused.text)
        assert "was refused" in refused.text or "expired or was not this site" in refused.text
        assert "bcu_session" not in refused.headers.get("set-cookie", "")

    signed_in = await ui.post(
        "/signin", data={"csrf_token": token, "api_key": key}, headers=SAME_SITE
    )
    assert signed_in.status_code == 303, signed_in.text
    assert "bcu_session" in signed_in.cookies


async def test_sign_out_is_a_form_of_this_site_not_a_link(ui, guarded_api, admin_headers) -> None:
    signed_in = await _sign_in(ui, admin_headers["Authorization"][7:])
    session = {"Authorization": f"Bearer {signed_in.cookies['bcu_session']}"}
    async with httpx.AsyncClient(base_url=guarded_api) as api:
        asked = await ui.get("/signout")
        assert asked.status_code == 200 and 'action="/signout"' in asked.text
        forged = await ui.post(
            "/signout",
            data={"csrf_token": ui.cookies["bcu_csrf"]},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        assert (await api.get("/auth/me", headers=session)).status_code == 200

        done = await ui.post(
            "/signout", data={"csrf_token": ui.cookies["bcu_csrf"]}, headers=SAME_SITE
        )
        assert done.status_code == 303 and done.headers["location"] == "/signin"
        assert (await api.get("/auth/me", headers=session)).status_code == 401


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("clé-äöü", None),
        ("密钥", None),
        ("abc\r\ndef", None),
        ("abc\ndef", None),
        ("abc\x00def", None),
        ("two words", None),
        (None, b"api_key=%ff%fe%fd"),  # percent-encoded bytes that are no UTF-8
        (None, b"api_key=\xff\xfe"),  # raw bytes that are no UTF-8
    ],
)
async def test_a_key_no_api_could_issue_gets_a_clear_400(ui, key, raw) -> None:
    if raw is None:
        response = await _sign_in(ui, key)
    else:
        token = (await _csrf_token(ui)).encode()
        response = await ui.post(
            "/signin",
            content=raw + b"&csrf_token=" + token,
            headers={**SAME_SITE, "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 400, response.text
    assert "not valid UTF-8" in response.text or "letters, digits and punctuation" in response.text
    assert "cannot be reached" not in response.text


async def test_guessing_keys_on_the_sign_in_page_gets_429(
    ui, guarded_api, admin_headers, monkeypatch
) -> None:
    statuses = [(await _sign_in(ui, f"guess-{n}")).status_code for n in range(2)]
    assert statuses == [401, 401]
    refused = await _sign_in(ui, "guess-3")
    assert refused.status_code == 429, refused.text
    assert "Too many failed sign-ins from your address" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    # Even the right key is not tried from this address now.
    assert (await _sign_in(ui, admin_headers["Authorization"][7:])).status_code == 429
    # The API counts the browser's address (the UI passes it on), not the UI's own.
    async with _browser(guarded_api, monkeypatch) as elsewhere:
        assert (await _sign_in(elsewhere, admin_headers["Authorization"][7:])).status_code == 303
