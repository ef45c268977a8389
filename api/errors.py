"""Every domain and service error mapped to an HTTP status, in one place."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from pydantic import ValidationError

from domain.errors import DomainError, FileRejected, InvalidRequest
from store.bulk import TooManyCustomers
from store.errors import Conflict, Forbidden, Gone, NotFound, Unauthorized

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    FileRejected: 422,
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    Unauthorized: 401,
    Forbidden: 403,
    TooManyCustomers: 413,
}


def _json(status: int, body: dict[str, object]) -> Response[dict[str, object]]:
    return Response(body, status_code=status, media_type=MediaType.JSON)


def domain_error(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, object]]:
    status = next((code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 400)
    body: dict[str, object] = {"status_code": status, "detail": str(error)}
    if isinstance(error, FileRejected) and error.missing_required:
        body["missingRequired"] = error.missing_required
    return _json(status, body)


def validation_error(
    _: Request[Any, Any, Any], error: ValidationError
) -> Response[dict[str, object]]:
    reasons = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        reasons.append(f"{where}: {item['msg']}" if where else item["msg"])
    return _json(400, {"status_code": 400, "detail": "Invalid request: " + "; ".join(reasons)})


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, object]]:
    body: dict[str, object] = {"status_code": error.status_code, "detail": error.detail}
    if error.extra:
        body["extra"] = error.extra
    return Response(
        body, status_code=error.status_code, media_type=MediaType.JSON, headers=error.headers
    )


def too_deep(_: Request[Any, Any, Any], __: RecursionError) -> Response[dict[str, object]]:
    """Parsing JSON nested thousands of levels deep exhausts the parser's recursion."""
    detail = "Invalid request: the JSON is nested too deeply"
    return _json(400, {"status_code": 400, "detail": detail})


def unexpected_error(
    request: Request[Any, Any, Any], error: Exception
) -> Response[dict[str, object]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return _json(
        500, {"status_code": 500, "detail": "Internal server error; the request was not completed"}
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    ValidationError: validation_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    Exception: unexpected_error,
}
