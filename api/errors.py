"""Every domain and service error mapped to an HTTP status, in one place, and one error body:
`{"status_code", "detail"}` (plus `missingRequired` when a file lacks mandatory columns)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pymongo.errors import ConnectionFailure

from domain.errors import DomainError, FileRejected, InvalidRequest, Unprocessable
from domain.schema_changes import ChangeRefused
from store.bulk import TooManyCustomers
from store.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    RetryLater,
    TooManyRequests,
    Unauthorized,
)

log = logging.getLogger(__name__)

# The first kind an error is an instance of decides: subclasses come before their bases.
STATUS_OF: dict[type[DomainError], int] = {
    FileRejected: 422,
    Unprocessable: 422,
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    ChangeRefused: 409,
    PreconditionFailed: 412,
    Gone: 410,
    Unauthorized: 401,
    Forbidden: 403,
    TooManyCustomers: 413,
    TooManyRequests: 429,
}
# Errors raised by a validator's own rule: the value has the documented shape but breaks a
# rule the shape cannot express. Any other pydantic error is a shape error.
_RULE_ERRORS = {"value_error", "assertion_error"}


def _json(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> Response[dict[str, object]]:
    body: dict[str, object] = {"status_code": status, "detail": detail, **extra}
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def domain_error(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, object]]:
    status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 400)
    if isinstance(error, FileRejected) and error.missing_required:
        return _json(status, str(error), missingRequired=error.missing_required)
    if isinstance(error, TooManyRequests | RetryLater):
        return _json(status, str(error), {"Retry-After": str(error.retry_after)})
    return _json(status, str(error))


def _causes(error: ValidationError) -> list[Any]:
    """The errors less those that only follow from another: a list too short "after
    validation" because its one item failed says nothing of its own."""
    items = error.errors()
    return [
        item
        for item in items
        if not (
            item["type"] == "too_short"
            and any(o is not item and o["loc"][: len(item["loc"])] == item["loc"] for o in items)
        )
    ]


def describe(error: ValidationError) -> str:
    reasons = []
    for item in _causes(error):
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {message}" if where else message)
    return "Invalid request: " + "; ".join(reasons)


def validation_error(
    _: Request[Any, Any, Any], error: ValidationError
) -> Response[dict[str, object]]:
    rule_only = all(item["type"] in _RULE_ERRORS for item in _causes(error))
    return _json(422 if rule_only else 400, describe(error))


def _wire_name(item: dict[str, Any]) -> str:
    """A parameter as the client wrote it (createdFrom, Idempotency-Key), not as the handler
    names it."""
    key = str(item.get("key"))
    if item.get("source") == "header":  # idempotency_key: Idempotency-Key
        return "-".join(part.capitalize() for part in key.split("_"))
    return to_camel(key) if item.get("source") == "query" else key


def request_validation_error(
    _: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, object]]:
    """Litestar's check of query and path parameters: a shape error, named by parameter."""
    reasons = [
        f"{_wire_name(item)}: {item.get('message')}"
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    return _json(400, "Invalid request: " + ("; ".join(reasons) or str(error.detail)))


# Litestar's words when a multipart part's header line passes its parser's 4 KiB limit.
_MULTIPART_HEADER_TOO_LONG = "Request Entity Too Large"


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, object]]:
    if error.status_code == 400 and error.detail == _MULTIPART_HEADER_TOO_LONG:
        return _json(
            400,
            "A part of the multipart form has a header line longer than 4 KiB, most often a "
            "file name of thousands of characters; send the file under a shorter name.",
        )
    return _json(error.status_code, error.detail, error.headers)


def too_deep(_: Request[Any, Any, Any], __: RecursionError) -> Response[dict[str, object]]:
    """Parsing JSON nested thousands of levels deep exhausts the parser's recursion."""
    return _json(400, "Invalid request: the JSON is nested too deeply")


# Seconds a client waits before trying again after the database did not answer: the driver
# finds a restarted or newly elected server within its next heartbeat or two.
DATABASE_RETRY_AFTER_SECONDS = 2


def database_unavailable(
    request: Request[Any, Any, Any], error: ConnectionFailure
) -> Response[dict[str, object]]:
    """The database did not answer (a connection lost, no server reachable): the client can
    do nothing about it but try again, so a 503 that says so, not a 500."""
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        error.__class__.__name__,
    )
    return _json(
        503,
        "The database did not answer (connection lost or no server reachable); the request may "
        "not have completed. Try it again shortly, with the same Idempotency-Key if it creates "
        "something.",
        {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def unexpected_error(
    request: Request[Any, Any, Any], error: Exception
) -> Response[dict[str, object]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return _json(500, "Internal server error; the request was not completed")


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationError: validation_error,
    ValidationException: request_validation_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    ConnectionFailure: database_unavailable,
    Exception: unexpected_error,
}
