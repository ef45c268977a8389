"""A small synchronous client for the REST API (DESIGN.md §6), used by every page.

Every failure, including an API that cannot be reached, raises `ApiError` with a message a
person can read; pages show it with `st.error` instead of a traceback."""

from __future__ import annotations

import json
from typing import Any

import httpx

TIMEOUT_SECONDS = 60.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def content_type(file_name: str) -> str:
    return XLSX if file_name.lower().endswith(".xlsx") else "text/csv"


class SignedOut(Exception):
    """The API no longer accepts the signed-in user's session (it ended, or its key was
    revoked): ui/app.py sends the user to sign in again. Not an ApiError, so that the pages'
    handlers of refused requests let it through."""


class ApiError(Exception):
    """A request the API refused or could not answer; `str()` is the readable reason."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        missing_required: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.missing_required = missing_required or []


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    missing = body.get("missingRequired") if isinstance(body, dict) else None
    if not detail:
        detail = f"The API answered HTTP {response.status_code} ({response.reason_phrase})."
    elif response.status_code >= 500 and response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
        detail = f"The API failed: {detail}"  # a 503 says itself what happened and what to do
    return ApiError(str(detail), response.status_code, list(missing or []))


class ApiClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = httpx.request(
                method,
                self.base_url + path,
                headers={**self._headers, **(headers or {})},
                timeout=TIMEOUT_SECONDS,
                **kwargs,
            )
        except httpx.TimeoutException:
            raise ApiError(
                f"The API at {self.base_url} did not answer in time. Try again in a moment."
            ) from None
        except httpx.TransportError as error:
            raise ApiError(
                f"The API at {self.base_url} cannot be reached ({error}). "
                "Check that it is running, then try again."
            ) from None
        if response.status_code == 401:
            raise SignedOut(str(_error_from(response)))
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def me(self) -> dict[str, str]:
        result: dict[str, str] = self._json("GET", "/auth/me")
        return result

    def record_types(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self._json("GET", "/record-types")
        return result

    def schema(self, record_type: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/record-types/{record_type}/schema")
        return result

    def channel_identifiers(self, record_type: str) -> list[dict[str, str]]:
        path = f"/record-types/{record_type}/channel-identifiers"
        result: list[dict[str, str]] = self._json("GET", path)
        return result

    def template(self, record_type: str, extension: str) -> bytes:
        """The sample template: extension "csv" or "xlsx"."""
        return self._request("GET", f"/record-types/{record_type}/template.{extension}").content

    def suggest_mapping(
        self,
        file_name: str,
        content: bytes,
        record_type: str,
        sheet: str | None = None,
        chosen: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The suggested mapping of the file; with `chosen` (a mapping and its separator), also
        the API's check of that mapping, as `chosenMapping`."""
        data = {"recordType": record_type, **({"sheet": sheet} if sheet else {})}
        if chosen is not None:
            data["chosenMapping"] = json.dumps(chosen)
        result: dict[str, Any] = self._json(
            "POST",
            "/imports/mapping",
            files={"file": (file_name, content, content_type(file_name))},
            data=data,
        )
        return result

    def create_import(
        self, file_name: str, content: bytes, config: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            "/imports",
            files={"file": (file_name, content, content_type(file_name))},
            data={"config": json.dumps(config)},
        )
        return result

    def retry_import(self, job_id: str, file_name: str, content: bytes) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            f"/imports/{job_id}/retry",
            files={"file": (file_name, content, content_type(file_name))},
        )
        return result

    def resume_import(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/imports/{job_id}/resume")
        return result

    def revert_import(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/imports/{job_id}/revert")
        return result

    def list_imports(
        self, limit: int = 50, offset: int = 0, **filters: str
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of imports, newest first, and how many match `filters` (GET /imports)."""
        params = {"limit": limit, "offset": offset, **filters}
        result: dict[str, Any] = self._json("GET", "/imports", params=params)
        items: list[dict[str, Any]] = result["items"]
        return items, int(result["total"])

    def get_import(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/imports/{job_id}")
        return result

    def cancel_import(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/imports/{job_id}/cancel")
        return result

    def report(self, job_id: str) -> bytes:
        return self._request("GET", f"/imports/{job_id}/report").content

    def failed_rows_csv(self, job_id: str) -> bytes:
        return self._request("GET", f"/imports/{job_id}/failed-rows.csv").content

    # Automation (DESIGN.md §7): schedules and webhooks.

    def list_schedules(self) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", "/schedules", params={"limit": 500})
        items: list[dict[str, Any]] = result["items"]
        return items

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/schedules/{schedule_id}")
        return result

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/schedules", json=body)
        return result

    def update_schedule(self, schedule_id: str, change: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json("PATCH", f"/schedules/{schedule_id}", json=change)
        return result

    def delete_schedule(self, schedule_id: str) -> None:
        self._request("DELETE", f"/schedules/{schedule_id}")

    def run_schedule(self, schedule_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/schedules/{schedule_id}/run")
        return result

    def list_webhooks(self) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", "/webhooks")
        items: list[dict[str, Any]] = result["items"]
        return items

    def create_webhook(self, url: str, events: list[str], description: str) -> dict[str, Any]:
        body = {"url": url, "events": events, "description": description}
        result: dict[str, Any] = self._json("POST", "/webhooks", json=body)
        return result

    def delete_webhook(self, webhook_id: str) -> None:
        self._request("DELETE", f"/webhooks/{webhook_id}")

    def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/webhooks/{webhook_id}/test")
        return result

    def webhook_deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", f"/webhooks/{webhook_id}/deliveries")
        items: list[dict[str, Any]] = result["items"]
        return items

    # Administration (admins): the schema, API keys, remembered mappings.

    def schema_version(self, record_type: str) -> tuple[dict[str, Any], str]:
        """The schema and its ETag (to send back as If-Match with a change)."""
        response = self._request("GET", f"/record-types/{record_type}/schema")
        result: dict[str, Any] = response.json()
        return result, response.headers.get("etag", "")

    def add_attribute(self, record_type: str, attribute: dict[str, Any]) -> dict[str, Any]:
        path = f"/record-types/{record_type}/schema/attributes"
        result: dict[str, Any] = self._json("POST", path, json=attribute)
        return result

    def replace_schema(
        self, record_type: str, attributes: list[dict[str, Any]], etag: str, force: bool
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "PUT",
            f"/record-types/{record_type}/schema",
            json={"attributes": attributes},
            params={"force": str(force).lower()},
            headers={"If-Match": etag},
        )
        return result

    def schema_versions(self, record_type: str) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", f"/record-types/{record_type}/schema/versions")
        items: list[dict[str, Any]] = result["items"]
        return items

    def restore_schema_version(self, record_type: str, version: int, etag: str) -> None:
        self._request(
            "POST",
            f"/record-types/{record_type}/schema/versions/{version}/restore",
            headers={"If-Match": etag},
        )

    def list_keys(self) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", "/api-keys")
        items: list[dict[str, Any]] = result["items"]
        return items

    def create_key(self, name: str, role: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/api-keys", json={"name": name, "role": role})
        return result

    def revoke_key(self, key_id: str) -> None:
        self._request("DELETE", f"/api-keys/{key_id}")

    def list_mappings(self) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", "/mappings", params={"limit": 500})
        items: list[dict[str, Any]] = result["items"]
        return items

    def delete_mapping(self, mapping_id: str) -> None:
        self._request("DELETE", f"/mappings/{mapping_id}")

    # Operations (DESIGN.md §8): the audit trail, and a customer with its history.

    def audit_actions(self) -> list[str]:
        """The actions GET /audit-events filters by, as the API's OpenAPI document lists them."""
        document: dict[str, Any] = self._json("GET", "/docs/openapi.json")
        actions: list[str] = document["components"]["schemas"]["AuditAction"]["enum"]
        return actions

    def audit_events(self, limit: int, offset: int, **filters: str) -> tuple[list[Any], int]:
        params = {"limit": limit, "offset": offset, **filters}
        result: dict[str, Any] = self._json("GET", "/audit-events", params=params)
        return list(result["items"]), int(result["total"])

    def find_customers(self, key: str, value: str) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", "/customers", params={key: value, "limit": 20})
        items: list[dict[str, Any]] = result["items"]
        return items

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/customers/{customer_id}")
        return result

    def customer_history(self, customer_id: str) -> list[dict[str, Any]]:
        result: dict[str, Any] = self._json("GET", f"/customers/{customer_id}/history")
        items: list[dict[str, Any]] = result["items"]
        return items
