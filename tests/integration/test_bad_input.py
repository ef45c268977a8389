"""Bad input of every kind (files, import settings, JSON bodies, queries, headers, keys):
each gets its documented 4xx with a reason a person can act on, and where the request is
refused nothing at all is written: no customer, claim, job, batch, stored file, key or
schema change."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from tests.helpers import csv_bytes, raw_xlsx, rewritten_xlsx

GOOD_CONFIG = {"deduplicationKeys": ["email"], "action": "ignore"}
GOOD_CSV = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"]])
SCHEMA = "/record-types/customers/schema"
DEFAULT_ATTRIBUTES = [
    a.model_dump(by_alias=True, mode="json") for a in DEFAULT_CUSTOMER_SCHEMA.attributes
]
COLLECTIONS = (
    "customers",
    "identifier_claims",
    "import_jobs",
    "import_batches",
    "uploads.files",
    "uploads.chunks",
    "api_keys",
    "idempotency_keys",
    "webhooks",
    "webhook_deliveries",
    "schedules",
    "schedule_runs",
    "schema_versions",
)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    detail: str  # a part of the reason the answer must give
    request: dict[str, Any] = field(default_factory=dict)
    role: str = "admin"  # admin, importer, viewer, or none (no Authorization header)
    headers: dict[str, Any] = field(default_factory=dict)


def upload(
    content: bytes = GOOD_CSV, config: Any = GOOD_CONFIG, name: str = "customers.csv"
) -> dict[str, Any]:
    data = (
        {}
        if config is None
        else {"config": config if isinstance(config, str) else json.dumps(config)}
    )
    return {"files": {"file": (name, content, "text/csv")}, "data": data}


def config_case(name: str, config: Any, status: int, detail: str) -> Case:
    return Case(f"config: {name}", "POST", "/imports", status, detail, upload(config=config))


def file_case(
    name: str, content: bytes, status: int, detail: str, kind: str = "file", **config: Any
) -> Case:
    settings = {**GOOD_CONFIG, **config}
    return Case(f"{kind}: {name}", "POST", "/imports", status, detail, upload(content, settings))


def bulk_case(name: str, body: Any, status: int, detail: str) -> Case:
    request = {"content": body} if isinstance(body, bytes) else {"json": body}
    return Case(f"bulk: {name}", "POST", "/customers/bulkCustomers", status, detail, request)


def source_case(name: str, source: Any, status: int, detail: str) -> Case:
    config = json.dumps({**GOOD_CONFIG, "source": source})
    request = {"files": {"config": (None, config, "application/json")}}
    return Case(f"source: {name}", "POST", "/imports", status, detail, request)


def webhook_case(name: str, body: Any, status: int, detail: str, role: str = "admin") -> Case:
    request = {"content": body} if isinstance(body, bytes) else {"json": body}
    return Case(f"webhook: {name}", "POST", "/webhooks", status, detail, request, role=role)


GOOD_SCHEDULE = {
    "name": "nightly",
    "source": {"url": "http://127.0.0.1:9/c.csv"},
    "config": GOOD_CONFIG,
    "cron": "0 2 * * *",
    "timezone": "Europe/Paris",
}


def schedule_case(name: str, status: int, detail: str, role: str = "admin", **fields: Any) -> Case:
    body = {k: v for k, v in {**GOOD_SCHEDULE, **fields}.items() if v is not None}
    return Case(
        f"schedule: {name}", "POST", "/schedules", status, detail, {"json": body}, role=role
    )


_LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
_XLSX_ROWS = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c></row>'
    b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
)


def _xlsx_with(sheet_prefix: bytes, rows: bytes = _XLSX_ROWS) -> bytes:
    """A workbook whose sheet XML starts with `sheet_prefix` (a DOCTYPE, say)."""
    sheet = "xl/worksheets/sheet1.xml"
    return rewritten_xlsx(raw_xlsx(rows), {sheet: lambda data: sheet_prefix + data})


def xlsx_case(name: str, content: bytes, detail: str, path: str = "/imports") -> Case:
    request = upload(content, GOOD_CONFIG, "customers.xlsx")
    if path != "/imports":
        request = {"files": {"file": ("customers.xlsx", content, "application/octet-stream")}}
    return Case(f"xlsx: {name} ({path})", "POST", path, 422, detail, request)


XLSX_CASES = [
    xlsx_case(name, content, detail, path)
    for path in ("/imports", "/imports/mapping")
    for name, content, detail in [
        ("billion laughs", _xlsx_with(_LAUGHS), "document type declaration"),
        (
            "an external entity",
            _xlsx_with(
                b'<!DOCTYPE x [<!ENTITY lol3 SYSTEM "file:///etc/passwd">]>',
            ),
            "document type declaration",
        ),
        (
            "sheet XML cut short",
            raw_xlsx(_XLSX_ROWS.replace(b"&lol3;", b"Ann")[:-30]),
            "is not well-formed XML",
        ),
        ("a ZIP of nothing", raw_xlsx(b"")[:200], "not a readable Excel workbook"),
    ]
]


def bulk_body(**fields: Any) -> dict[str, Any]:
    return {"action": "ignore", "deduplicationKeys": ["email"], "customers": [{}], **fields}


CASES = [
    *XLSX_CASES,
    # Files
    file_case("empty", b"", 422, "empty"),
    file_case("header only", b"firstName,email\r\n", 422, "no data rows"),
    file_case("binary", bytes(range(256)) * 40, 422, ""),
    file_case("no firstName column", csv_bytes(["email"], [["a@b.co"]]), 422, "firstName"),
    file_case(
        "duplicate headers", b"firstName,firstName,email\r\nA,B,a@b.co\r\n", 422, "firstName"
    ),
    file_case("blank header", b"firstName,,email\r\nA,x,a@b.co\r\n", 422, "header"),
    file_case(
        "too many columns",
        (",".join(f"c{i}" for i in range(300)) + "\r\n1\r\n").encode(),
        422,
        "columns",
    ),
    file_case(
        "a header longer than a field may be",
        ("firstName," + "h" * 20_000 + "\r\nA,x\r\n").encode(),
        422,
        "longer than 10000 characters",
    ),
    file_case("a zip archive", b"PK\x03\x04" + b"\x00" * 200, 422, ""),
    file_case("an unsupported delimiter", GOOD_CSV, 422, "Unsupported delimiter", delimiter=":"),
    file_case(
        "mapping to an unknown attribute",
        GOOD_CSV,
        422,
        "unknown attributes",
        mapping={"firstName": "nope"},
    ),
    file_case("mapping an absent column", GOOD_CSV, 422, "", mapping={"mobile": "phoneNumber"}),
    file_case("two columns on one attribute", GOOD_CSV, 422, "", mapping={"firstName": "email"}),
    file_case("mapping away firstName", GOOD_CSV, 422, "firstName", mapping={"firstName": None}),
    file_case(
        "a deduplication key without a column",
        GOOD_CSV,
        422,
        "No column of the file is mapped to the deduplication key(s) facebook;",
        deduplicationKeys=["email", "facebook"],
    ),
    file_case(
        "a NUL byte far past the start",
        b"firstName,email\r\n" + b"Ann,ann@example.com\r\n" * 5_000 + b"A\x00n,x@example.com\r\n",
        422,
        "line 5002 holds a NUL byte",
        kind="encoding",
    ),
    file_case(
        "a NUL byte in UTF-16 text",
        ("firstName,email\r\n" + "Ann,a@b.co\r\n" * 200 + "A\x00n,a@b.co\r\n").encode("utf-16"),
        422,
        "line 202 holds a NUL byte",
        kind="encoding",
    ),
    file_case(
        "one line of 9 MB without a line end",
        b"firstName,email," + b"x" * 9_000_000,
        422,
        "The header row cannot be read: line 1 is longer than 8000600 bytes",
        kind="bomb",
    ),
    Case(
        "file: missing",
        "POST",
        "/imports",
        400,
        "field 'file'",
        {"data": {"config": json.dumps(GOOD_CONFIG)}, "files": {"x": ("x", b"")}},
    ),
    Case(
        "file: not multipart",
        "POST",
        "/imports",
        400,
        "multipart/form-data",
        {"data": {"config": json.dumps(GOOD_CONFIG)}},
    ),
    Case(
        "file: sent as text",
        "POST",
        "/imports",
        400,
        "field 'file'",
        {"data": {"file": "a,b", "config": json.dumps(GOOD_CONFIG)}, "files": {"x": ("x", b"")}},
    ),
    Case(
        "file: unknown record type",
        "POST",
        "/imports",
        404,
        "Unknown record type",
        upload(config={**GOOD_CONFIG, "recordType": "orders"}),
    ),
    Case(
        "mapping: no file",
        "POST",
        "/imports/mapping",
        400,
        "field 'file'",
        {"data": {"recordType": "customers"}, "files": {"x": ("x", b"")}},
    ),
    Case(
        "mapping: empty file",
        "POST",
        "/imports/mapping",
        422,
        "empty",
        {"files": {"file": ("a.csv", b"")}},
    ),
    Case(
        "mapping: unknown record type",
        "POST",
        "/imports/mapping",
        404,
        "Unknown record type",
        {"files": {"file": ("a.csv", GOOD_CSV)}, "data": {"recordType": "orders"}},
    ),
    # Import settings
    config_case("missing", None, 400, "field 'config'"),
    config_case("not JSON", "{action: ignore}", 400, "Invalid request"),
    config_case("a JSON array", "[]", 400, "Invalid request"),
    config_case("a JSON string", '"ignore"', 400, "Invalid request"),
    config_case(
        "nested 300 deep",
        json.dumps(GOOD_CONFIG)[:-1] + ', "mapping": ' + "[" * 300 + "]" * 300 + "}",
        400,
        "nested too deeply",
    ),
    config_case("unknown action", {**GOOD_CONFIG, "action": "merge"}, 400, "action"),
    config_case("no deduplication key", {"action": "ignore"}, 422, "deduplicationKeys"),
    config_case(
        "empty deduplication keys",
        {"deduplicationKeys": [], "action": "ignore"},
        422,
        "deduplicationKeys",
    ),
    config_case(
        "a key that is no identifier",
        {**GOOD_CONFIG, "deduplicationKeys": ["city"]},
        422,
        "Not channel identifiers",
    ),
    config_case(
        "keys given twice, differently",
        {**GOOD_CONFIG, "channelIdentifier": "phoneNumber"},
        422,
        "not both",
    ),
    config_case("a misspelt setting", {**GOOD_CONFIG, "dryrun": True}, 400, "dryrun"),
    config_case("dryRun as text", {**GOOD_CONFIG, "dryRun": "yes"}, 400, "dryRun"),
    config_case("batchSize 0", {**GOOD_CONFIG, "batchSize": 0}, 400, "batchSize"),
    config_case("batchSize as text", {**GOOD_CONFIG, "batchSize": "100"}, 400, "batchSize"),
    config_case(
        "batchSize over the limit", {**GOOD_CONFIG, "batchSize": 1_000_000}, 400, "batchSize"
    ),
    config_case(
        "separator too long",
        {**GOOD_CONFIG, "multiValueSeparator": "||||"},
        400,
        "multiValueSeparator",
    ),
    config_case(
        "empty separator", {**GOOD_CONFIG, "multiValueSeparator": ""}, 400, "multiValueSeparator"
    ),
    config_case(
        "unknown phone region",
        {**GOOD_CONFIG, "phoneDefaultRegion": "XX"},
        422,
        "unknown phone region",
    ),
    config_case("mapping not an object", {**GOOD_CONFIG, "mapping": ["firstName"]}, 400, "mapping"),
    config_case(
        "mapping to a number", {**GOOD_CONFIG, "mapping": {"firstName": 1}}, 400, "mapping"
    ),
    # Bulk bodies
    bulk_case("not JSON", b"{customers: []}", 400, "Invalid request"),
    bulk_case("empty body", b"", 400, "Invalid request"),
    bulk_case("a JSON array", [1, 2], 400, "Invalid request"),
    bulk_case("null", None, 400, "Invalid request"),
    bulk_case("customers not a list", bulk_body(customers="nope"), 400, "customers"),
    bulk_case("a customer not an object", bulk_body(customers=[1]), 400, "customers"),
    bulk_case("no customers", bulk_body(customers=[]), 422, "at least one customer"),
    bulk_case("unknown action", bulk_body(action="merge"), 400, "action"),
    bulk_case("no deduplication key", bulk_body(deduplicationKeys=[]), 422, "deduplicationKeys"),
    bulk_case(
        "a key that is no identifier",
        bulk_body(deduplicationKeys=["city"]),
        422,
        "Not channel identifiers",
    ),
    bulk_case("a misspelt field", bulk_body(dedupKeys=["email"]), 400, "dedupKeys"),
    bulk_case("unknown record type", bulk_body(recordType="orders"), 404, "Unknown record type"),
    bulk_case(
        "more customers than allowed", bulk_body(customers=[{}] * 5_001), 413, "at most 5000"
    ),
    bulk_case(
        "nested 40 deep",
        bulk_body(customers=[{"firstName": json.loads("[" * 40 + "]" * 40)}]),
        400,
        "nested too deeply",
    ),
    bulk_case(
        "nested 10,000 deep",
        b'{"customers": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        400,
        "nested too deeply",
    ),
    *(
        bulk_case(
            f"{number} as a value",
            b'{"deduplicationKeys": ["email"], "customers": [{"firstName": "Ann", '
            b'"email": "nan@example.com", "city": ' + number + b"}]}",
            400,
            "NaN, Infinity and -Infinity are not JSON numbers",
        )
        for number in (b"NaN", b"Infinity", b"-Infinity")
    ),
    # Schema and keys
    Case(
        "schema: not JSON",
        "PUT",
        "/record-types/customers/schema",
        400,
        "Invalid request",
        {"content": b"attributes"},
    ),
    Case(
        "schema: no attributes",
        "PUT",
        "/record-types/customers/schema",
        400,
        "attributes",
        {"json": {"attributes": []}},
    ),
    Case(
        "schema: unknown record type",
        "PUT",
        "/record-types/orders/schema",
        404,
        "Unknown record type",
        {
            "json": {
                "attributes": [
                    {"key": "email", "label": "E", "type": "email", "channelIdentifier": True}
                ]
            }
        },
    ),
    Case(
        "keys: empty name",
        "POST",
        "/api-keys",
        400,
        "name",
        {"json": {"name": "", "role": "viewer"}},
    ),
    Case(
        "keys: unknown role",
        "POST",
        "/api-keys",
        400,
        "role",
        {"json": {"name": "k", "role": "owner"}},
    ),
    Case(
        "keys: an extra field",
        "POST",
        "/api-keys",
        400,
        "key",
        {"json": {"name": "k", "role": "viewer", "key": "mine"}},
    ),
    # Schema changes and key life cycle (issue 25)
    Case(
        "schema: a default attribute removed",
        "PUT",
        SCHEMA,
        409,
        "Default attributes cannot be removed: email",
        {
            "json": {"attributes": [a for a in DEFAULT_ATTRIBUTES if a["key"] != "email"]},
            "params": {"force": "true"},
        },
    ),
    Case(
        "schema: a stale If-Match",
        "PUT",
        SCHEMA,
        412,
        "has changed since you read it",
        {"json": {"attributes": DEFAULT_ATTRIBUTES[:-1]}},
        headers={"If-Match": '"999"'},
    ),
    Case(
        "schema: force not a boolean",
        "PUT",
        SCHEMA,
        400,
        "force",
        {"json": {"attributes": DEFAULT_ATTRIBUTES}, "params": {"force": "maybe"}},
    ),
    Case(
        "schema: an attribute added twice",
        "POST",
        f"{SCHEMA}/attributes",
        422,
        "already has an attribute 'email'",
        {"json": {"key": "email", "label": "Mail"}},
    ),
    Case(
        "schema: an attribute of an unknown type",
        "POST",
        f"{SCHEMA}/attributes",
        400,
        "type",
        {"json": {"key": "age", "label": "Age", "type": "integer"}},
    ),
    Case(
        "schema: an attribute with a misspelt flag",
        "POST",
        f"{SCHEMA}/attributes",
        400,
        "multivalue",
        {"json": {"key": "age", "label": "Age", "multivalue": True}},
    ),
    Case(
        "schema: a number as identifier",
        "POST",
        f"{SCHEMA}/attributes",
        422,
        "must be of type",
        {"json": {"key": "age", "label": "Age", "type": "number", "channelIdentifier": True}},
    ),
    Case("schema: restore an unknown version", "POST", f"{SCHEMA}/versions/9/restore", 404, "9"),
    Case("schema: restore version 0", "POST", f"{SCHEMA}/versions/0/restore", 400, "version"),
    Case(
        "schema: versions of an unknown record type",
        "GET",
        "/record-types/orders/schema/versions",
        404,
        "Unknown record type",
    ),
    Case("keys: revoke the ADMIN_API_KEY key", "DELETE", "/api-keys/ADMIN_API_KEY", 409, "setting"),
    Case("keys: revoke an unknown key", "DELETE", "/api-keys/nope", 404, "nope"),
    Case(
        "role: importer adds an attribute",
        "POST",
        f"{SCHEMA}/attributes",
        403,
        "admin role",
        {"json": {"key": "company", "label": "Company"}},
        role="importer",
    ),
    Case("role: importer lists keys", "GET", "/api-keys", 403, "admin role", role="importer"),
    Case(
        "role: viewer restores a schema version",
        "POST",
        f"{SCHEMA}/versions/1/restore",
        403,
        "admin role",
        role="viewer",
    ),
    # Queries and ids
    Case("query: limit 0", "GET", "/imports", 400, "limit", {"params": {"limit": "0"}}),
    Case(
        "query: limit too big", "GET", "/customers", 400, "limit", {"params": {"limit": "100000"}}
    ),
    Case(
        "query: limit not a number", "GET", "/imports", 400, "limit", {"params": {"limit": "ten"}}
    ),
    Case(
        "query: negative offset", "GET", "/customers", 400, "offset", {"params": {"offset": "-1"}}
    ),
    Case("query: unknown status", "GET", "/imports", 400, "status", {"params": {"status": "done"}}),
    Case(
        "query: unknown filter attribute",
        "GET",
        "/customers",
        400,
        "Unknown attribute",
        {"params": {"shoeSize": "9"}},
    ),
    Case(
        "query: an operator as a filter",
        "GET",
        "/customers",
        400,
        "Unknown attribute",
        {"params": {"$where": "1"}},
    ),
    Case("id: customer id not an ObjectId", "GET", "/customers/not-an-id", 404, "No customer"),
    Case("id: no such customer", "GET", "/customers/5f0000000000000000000000", 404, "No customer"),
    Case("id: no such import", "GET", "/imports/5f0000000000000000000000", 404, "No import"),
    Case("id: report of no import", "GET", "/imports/nope/report", 404, "No import"),
    Case("id: failed rows of no import", "GET", "/imports/nope/failed-rows.csv", 404, "No import"),
    Case("id: cancel no import", "POST", "/imports/nope/cancel", 404, "No import"),
    Case(
        "id: unknown record type", "GET", "/record-types/orders/schema", 404, "Unknown record type"
    ),
    # Headers and roles
    Case("auth: none", "GET", "/imports", 401, "Missing API key", role="none"),
    Case(
        "auth: Basic",
        "GET",
        "/imports",
        401,
        "Missing API key",
        role="none",
        headers={"Authorization": "Basic YTpi"},
    ),
    Case(
        "auth: empty bearer",
        "GET",
        "/imports",
        401,
        "Invalid API key",
        role="none",
        headers={"Authorization": "Bearer "},
    ),
    Case(
        "auth: unknown key",
        "GET",
        "/imports",
        401,
        "Invalid API key",
        role="none",
        headers={"Authorization": "Bearer nope"},
    ),
    Case(
        "auth: non-ASCII key",
        "GET",
        "/imports",
        401,
        "Invalid API key",
        role="none",
        headers={"Authorization": "Bearer ключ".encode()},
    ),
    Case("role: viewer imports", "POST", "/imports", 403, "importer role", upload(), role="viewer"),
    Case(
        "role: viewer writes in bulk",
        "POST",
        "/customers/bulkCustomers",
        403,
        "importer role",
        {"json": bulk_body()},
        role="viewer",
    ),
    Case(
        "role: importer replaces the schema",
        "PUT",
        "/record-types/customers/schema",
        403,
        "admin role",
        {"json": {"attributes": []}},
        role="importer",
    ),
    Case(
        "role: importer creates a key",
        "POST",
        "/api-keys",
        403,
        "admin role",
        {"json": {"name": "k", "role": "admin"}},
        role="importer",
    ),
    Case(
        "role: viewer cancels", "POST", "/imports/nope/cancel", 403, "importer role", role="viewer"
    ),
    # Idempotency-Key
    Case(
        "idempotency: a key of 256 characters",
        "POST",
        "/imports",
        400,
        "Idempotency-Key",
        upload(),
        headers={"Idempotency-Key": "k" * 256},
    ),
    Case(
        "idempotency: a non-ASCII key on a bulk write",
        "POST",
        "/customers/bulkCustomers",
        400,
        "Idempotency-Key",
        {"json": bulk_body()},
        headers={"Idempotency-Key": "clé".encode()},
    ),
    # Remote sources
    source_case("ftp", {"url": "ftp://host/c.csv"}, 400, "source.url"),
    source_case(
        "url and s3",
        {"url": "http://h/c.csv", "s3": {"bucket": "bkt", "key": "k"}},
        422,
        "not both",
    ),
    source_case("neither", {}, 422, "either 'url' or 's3'"),
    source_case("a URL with a password", {"url": "http://u:p@127.0.0.1/c.csv"}, 422, "password"),
    source_case("a URL without a host", {"url": "http:///c.csv"}, 422, "no valid host"),
    source_case("an s3 bucket of 1 character", {"s3": {"bucket": "b", "key": "k"}}, 400, "bucket"),
    source_case("an unknown field", {"url": "http://h/c.csv", "headers": {}}, 400, "headers"),
    # Webhooks
    webhook_case("not JSON", b"url=x", 400, "Invalid request"),
    webhook_case("no url", {"events": ["import.completed"]}, 400, "url"),
    webhook_case("ftp", {"url": "ftp://h/x", "events": ["import.completed"]}, 400, "url"),
    webhook_case(
        "unknown event", {"url": "http://127.0.0.1/x", "events": ["import.done"]}, 400, "events"
    ),
    webhook_case("no event", {"url": "http://127.0.0.1/x", "events": []}, 400, "events"),
    webhook_case(
        "a secret of one's own",
        {"url": "http://127.0.0.1/x", "events": ["import.failed"], "secret": "whsec_x"},
        400,
        "secret",
    ),
    webhook_case(
        "an importer",
        {"url": "http://127.0.0.1/x", "events": ["import.failed"]},
        403,
        "admin role",
        role="importer",
    ),
    Case("webhook: test of none", "POST", "/webhooks/nope/test", 404, "No webhook"),
    Case(
        "webhook: deliveries of none",
        "GET",
        "/webhooks/5f0000000000000000000000/deliveries",
        404,
        "No webhook",
    ),
    Case("webhook: delete none", "DELETE", "/webhooks/nope", 404, "No webhook"),
    # Schedules
    schedule_case("four cron fields", 400, "Invalid cron '0 2 * *'", cron="0 2 * *"),
    schedule_case("an hour of 24", 400, "Invalid cron", cron="0 24 * * *"),
    schedule_case("an unknown zone", 400, "Invalid timezone", timezone="Paris"),
    schedule_case("no source", 400, "source", source=None),
    schedule_case(
        "the source inside config",
        422,
        "not inside 'config'",
        config={**GOOD_CONFIG, "source": {"url": "http://127.0.0.1/c.csv"}},
    ),
    schedule_case(
        "a key that is no identifier",
        422,
        "Not channel identifiers",
        config={**GOOD_CONFIG, "deduplicationKeys": ["city"]},
    ),
    schedule_case("a viewer", 403, "importer role", role="viewer"),
    schedule_case("enabled as text", 400, "enabled", enabled="yes"),
    Case("schedule: none", "GET", "/schedules/nope", 404, "No schedule"),
    Case(
        "schedule: run none", "POST", "/schedules/5f0000000000000000000000/run", 404, "No schedule"
    ),
    Case(
        "schedule: an unknown field",
        "PATCH",
        "/schedules/5f0000000000000000000000",
        400,
        "owner",
        {"json": {"owner": "me"}},
    ),
]


async def _snapshot(database: Any) -> dict[str, Any]:
    counts = {name: await database[name].count_documents({}) for name in COLLECTIONS}
    schema = await database["record_schemas"].find_one({"_id": "customers"}, {"updated_at": 0})
    return {**counts, "schema": schema}


async def _headers(api: Any, admin_headers: dict[str, str], case: Case) -> dict[str, Any]:
    if case.role == "none":
        return dict(case.headers)
    if case.role == "admin":
        return {**admin_headers, **case.headers}
    created = await api.post(
        "/api-keys", headers=admin_headers, json={"name": case.role, "role": case.role}
    )
    return {"Authorization": f"Bearer {created.json()['key']}", **case.headers}


def test_the_suite_covers_every_kind_of_input() -> None:
    kinds = {case.name.split(":")[0] for case in CASES}
    assert {"file", "config", "bulk", "schema", "keys", "query", "id", "auth", "role"} <= kinds
    assert {"idempotency", "source", "webhook", "schedule"} <= kinds
    assert {"encoding", "bomb", "xlsx"} <= kinds
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_bad_input_gets_its_reason_and_writes_nothing(
    api, database, admin_headers, case
) -> None:
    headers = await _headers(api, admin_headers, case)
    before = await _snapshot(database)
    response = await api.request(case.method, case.path, headers=headers, **case.request)
    assert response.status_code == case.status, response.text
    body = response.json()
    assert body["status_code"] == case.status
    assert case.detail in body["detail"], body["detail"]
    assert "Traceback" not in body["detail"]
    assert await _snapshot(database) == before
