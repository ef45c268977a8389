"""Small helpers shared by the integration and e2e tests."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

from stack.processes import VENV_BIN, Child, free_port, wait_for_port
from workers.queues import IMPORT_QUEUES

FINISHED = {"completed", "failed", "cancelled"}


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def xlsx_bytes(*sheets: tuple[str, list[list[Any]]]) -> bytes:
    """A workbook with the given sheets (title, rows), in order."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def import_form(
    content: bytes, config: dict[str, Any], name: str = "customers.csv"
) -> dict[str, Any]:
    return {"files": {"file": (name, content, "text/csv")}, "data": {"config": json.dumps(config)}}


async def wait_for_job(
    client: Any, job_id: str, headers: dict[str, str], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/imports/{job_id}", headers=headers)
        job: dict[str, Any] = response.json()
        if job["status"] in FINISHED:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"import {job_id} did not finish in {timeout}s: {job}")
        await asyncio.sleep(0.2)


def wait_for_job_sync(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/imports/{job_id}").json()
        if job["status"] in FINISHED:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"import {job_id} did not finish in {timeout}s: {job}")
        time.sleep(0.2)


def summary_counts(xlsx: bytes) -> dict[str, Any]:
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True)["Summary"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}


# --- driving the pipeline step by step (tests/integration/test_job_lifecycle.py) ----------

IMPORT_QUEUE_KEYS = tuple(
    f"dramatiq:{queue}{delayed}.msgs" for queue in IMPORT_QUEUES for delayed in ("", ".DQ")
)


class RecordingDispatcher:
    """A store.jobs.Dispatcher that records what the service asks to send instead of
    sending it, so a test decides when (and whether) the real workers get each message."""

    def __init__(self) -> None:
        self.plans: list[str] = []
        self.batches: list[str] = []
        self.finalizes: list[str] = []
        self.reverts: list[str] = []

    def plan(self, job_id: str) -> None:
        self.plans.append(job_id)

    def process_batch(self, batch_id: str, small_import: bool) -> None:
        self.batches.append(batch_id)

    def finalize(self, job_id: str) -> None:
        self.finalizes.append(job_id)

    def revert(self, revert_id: str) -> None:
        self.reverts.append(revert_id)


async def held_import(
    header: list[str],
    rows: list[list[str]],
    action: str = "replace",
    keys: tuple[str, ...] = ("email",),
    batch_size: int = 1,
) -> tuple[str, list[str]]:
    """An import created and planned by the real services; its batches are not sent: the
    test runs them. The job id and its batch ids."""
    from config import get_settings
    from domain.import_config import ImportConfig
    from store import jobs

    config = {"deduplicationKeys": list(keys), "action": action, "batchSize": batch_size}
    job = await jobs.create_job(
        io.BytesIO(csv_bytes(header, rows)),
        "held.csv",
        ImportConfig.model_validate(config),
        "admin",
        RecordingDispatcher(),
        get_settings(),
    )
    planned = RecordingDispatcher()
    await jobs.plan_job(str(job.id), planned, get_settings())
    return str(job.id), planned.batches


async def wait_until(check: Any, what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll the async `check()` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def import_queue_backlog(redis_url: str) -> int:
    """Messages of the import queue that are queued, being processed (not acked yet) or
    waiting for a retry: 0 means the workers have nothing left to do."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(int(client.hlen(key)) for key in IMPORT_QUEUE_KEYS)
    finally:
        client.close()


async def wait_for_idle_queue(redis_url: str, timeout: float = 45.0) -> None:
    async def idle() -> bool:
        return import_queue_backlog(redis_url) == 0

    await wait_until(idle, "the import queue drained", timeout=timeout, interval=0.1)


def _insert_all(collection: Any, docs: list[dict[str, Any]]) -> None:
    """insert_many of documents with their ids, safe when the driver retries a part already
    inserted (a retried write then meets its own documents)."""
    from pymongo.errors import BulkWriteError

    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as error:
        if any(e["code"] != 11000 for e in error.details["writeErrors"]):
            raise
    assert collection.count_documents({"_id": {"$in": [d["_id"] for d in docs[:1000]]}}) == min(
        len(docs), 1000
    )


def seed_customers_sync(sync_db: Any, profiles: list[dict[str, Any]]) -> None:
    """Store customers as the store would have: each identifier value with its claim."""
    from bson import ObjectId

    from domain.resolution import identifier_values
    from domain.schema import DEFAULT_CUSTOMER_SCHEMA
    from store.customers.claims import COLLECTION, claim_id

    keys = [a.key for a in DEFAULT_CUSTOMER_SCHEMA.channel_identifiers]
    docs = [{"_id": ObjectId(), "attributes": p, "rev": 1} for p in profiles]
    if docs:
        _insert_all(sync_db["customers"], docs)
    claims = [
        {"_id": claim_id(ident), "c": str(doc["_id"]), "w": None}
        for doc in docs
        for ident in identifier_values(doc["attributes"], keys)
    ]
    if claims:
        _insert_all(sync_db[COLLECTION], claims)


def commit_request(rows: list[Any], action: Any, writer: str | None = None, **extra: Any) -> Any:
    """A store.customers.request.Commit of `rows` as one writer (a new one unless given),
    matching on email, with the default schema."""
    from bson import ObjectId

    from domain.schema import DEFAULT_CUSTOMER_SCHEMA
    from store.customers import writers
    from store.customers.ids import id_for_row
    from store.customers.request import Commit

    writer_id = writer or writers.new_writer_id()
    return Commit(
        rows=rows,
        action=action,
        deduplication_keys=["email"],
        schema=DEFAULT_CUSTOMER_SCHEMA,
        writer=writer_id,
        new_id=lambda number: id_for_row(ObjectId(writer_id[:24]), number),
        lookup_chunk_size=50,
        lease_seconds=60,
        **extra,
    )


def start_api(env: dict[str, str], log_path: Path) -> tuple[Child, str]:
    """The API as a real uvicorn process with `env`, ready; with its base URL."""
    port = free_port()
    argv = [str(VENV_BIN / "python"), "-m", "uvicorn", "api.app:create_app", "--factory"]
    child = Child("api", [*argv, "--host", "127.0.0.1", "--port", str(port)], env, log_path)
    child.start()
    wait_for_port(port, proc=child.proc)
    return child, f"http://127.0.0.1:{port}"


def start_worker(env: dict[str, str], log_path: Path) -> Child:
    """A real Dramatiq worker (two processes of two threads) with `env`."""
    argv = ["-m", "dramatiq", "workers.actors", "--processes", "2", "--threads", "2"]
    return Child("worker", [str(VENV_BIN / "python"), *argv], env, log_path).start()


def start_webhook_worker(env: dict[str, str], log_path: Path) -> Child:
    """The webhook worker (workers.webhooks) as `make run` starts it, one process."""
    argv = ["-m", "dramatiq", "workers.webhooks", "--processes", "1", "--threads", "4"]
    return Child("webhooks", [str(VENV_BIN / "python"), *argv], env, log_path).start()


def start_sweeper(env: dict[str, str], log_path: Path, check_seconds: float = 1.0) -> Child:
    """The recovery check (wiring.sweeper), which also announces webhook events and fires
    schedules; a round every `check_seconds` (a second unless told)."""
    argv = [str(VENV_BIN / "python"), "-m", "wiring.sweeper"]
    env = {**env, "RECOVERY_CHECK_SECONDS": str(check_seconds)}
    return Child("sweeper", argv, env, log_path).start()


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def raw_xlsx(sheet_data: bytes, shared_strings: bytes | None = None) -> bytes:
    """A minimal workbook of one sheet from the raw XML of its <sheetData> children (and of
    a <sst> table's children): for files no spreadsheet program would write."""
    rels = [
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    ]
    if shared_strings is not None:
        rels.append(
            f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    parts = {
        "_rels/.rels": f'<Relationships xmlns="{_RELS_NS}"><Relationship Id="rId1" '
        f'Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'.encode(),
        "xl/workbook.xml": f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_DOC_RELS}"><sheets>'
        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'.encode(),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS_NS}">{"".join(rels)}'
        "</Relationships>".encode(),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{_MAIN_NS}"><sheetData>'.encode()
        + sheet_data
        + b"</sheetData></worksheet>",
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = (
            f'<sst xmlns="{_MAIN_NS}">'.encode() + shared_strings + b"</sst>"
        )
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def rewritten_xlsx(
    content: bytes, changes: dict[str, Any], added: dict[str, bytes] | None = None
) -> bytes:
    """The workbook with parts changed (part name → a function of its bytes) or added."""
    import zipfile

    source, target = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(name, changes[name](data) if name in changes else data)
        for name, data in (added or {}).items():
            out.writestr(name, data)
    return target.getvalue()
