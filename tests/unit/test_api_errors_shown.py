"""How the UI words an error answer of the API (ui.api_client): the API's own reason, and
"The API failed" only where the API itself failed."""

from __future__ import annotations

import httpx

from ui.api_client import _error_from

DATABASE_DOWN = (
    "The database did not answer (connection lost or no server reachable); the request may "
    "not have completed. Try it again shortly."
)


def test_a_database_that_does_not_answer_is_shown_in_the_apis_words() -> None:
    error = _error_from(httpx.Response(503, json={"status_code": 503, "detail": DATABASE_DOWN}))
    assert (str(error), error.status_code) == (DATABASE_DOWN, 503)


def test_an_internal_error_says_the_api_failed() -> None:
    body = {"status_code": 500, "detail": "Internal server error; the request was not completed"}
    error = _error_from(httpx.Response(500, json=body))
    assert str(error) == "The API failed: Internal server error; the request was not completed"


def test_a_client_error_is_the_detail_itself() -> None:
    body = {"status_code": 422, "detail": "x", "missingRequired": ["email"]}
    error = _error_from(httpx.Response(422, json=body))
    assert (str(error), error.missing_required) == ("x", ["email"])


def test_an_answer_without_a_detail_names_its_status() -> None:
    error = _error_from(httpx.Response(502, text="<html>bad gateway</html>"))
    assert str(error) == "The API answered HTTP 502 (Bad Gateway)."
