"""What the OpenAPI document says beyond what Litestar derives from a handler's signature:
every status a route can answer, and the request bodies that handlers parse themselves."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation
from pydantic import BaseModel

from api.models.base import ErrorBody

REASONS = {
    400: "The request does not have the documented shape",
    401: "No API key, or not a valid one",
    403: "The key's role may not do this",
    404: "No such record type, import, customer, webhook or schedule",
    409: "Not in a state that allows this (the import's, or the same Idempotency-Key still "
    "being answered: then with Retry-After)",
    412: "If-Match names a version of the resource that is no longer the current one",
    410: "The file was deleted after the retention period",
    413: "Over a size limit",
    422: "Well-formed, but against a rule the shape cannot express (the detail says which)",
    429: "Too many requests or running imports for this key; retry after `Retry-After` seconds",
    503: "The database did not answer; the request may not have completed: retry after "
    "`Retry-After` seconds",
}
_EVERY_ROUTE = (400, 401, 403, 429, 503)


def errors(*statuses: int, reasons: dict[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The error answers of an authenticated route: its own, and those every route can give;
    `reasons` words a status for this route."""
    worded = {**REASONS, **(reasons or {})}
    return {
        status: ResponseSpec(data_container=ErrorBody, description=worded[status])
        for status in sorted({*_EVERY_ROUTE, *statuses})
    }


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """A JSON schema with its local `$ref`s replaced by the definitions they name: embedded
    in the OpenAPI document, `#/$defs/...` would point at the document's root."""
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inline(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    return {key: _inline(value, definitions) for key, value in schema.items() if key != "$defs"}


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a request model, as it reads JSON (aliases, camelCase)."""
    schema = model.model_json_schema(by_alias=True)
    return dict(_inline(schema, schema.get("$defs", {})))


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def request_body(
    schema: dict[str, Any],
    media_type: str,
    encoding: dict[str, Any] | None = None,
    retry_after: tuple[int, ...] = (),
) -> type[Operation]:
    """An Operation that documents `schema` as the required request body. For handlers that
    read their body themselves, so that their own parsing gives the precise error. The
    answers of `retry_after` statuses are documented with their Retry-After header."""
    content: dict[str, Any] = {"schema": schema}
    if encoding:
        content["encoding"] = encoding

    class DocumentedBody(Operation):
        def to_schema(self) -> dict[str, Any]:
            document = super().to_schema()
            document["requestBody"] = {"required": True, "content": {media_type: content}}
            for status in retry_after:
                document["responses"][str(status)]["headers"] = RETRY_AFTER
            return document

    return DocumentedBody
