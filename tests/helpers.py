"""Small helpers shared by the integration and e2e tests."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import httpx
from openpyxl import load_workbook

FINISHED = {"completed", "failed", "cancelled"}


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


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
