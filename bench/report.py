"""Time and peak memory of building the Excel report (and the failed-rows CSV) of a finished
import, for several job sizes: the memory of the building process should not grow with rows.

    .venv/bin/python -m bench.report [--rows 10000 50000 100000] [--batch-size 1000]

Each job is written straight into MongoDB in the shape the pipeline leaves it in (one
ImportBatch per batch, rows grouped by shared identifiers with the pipeline's RowGrouper, so
batches interleave in row numbers; results aligned with the rows): 10% failed rows, 5%
ignored, 5% updated, the rest imported. Every build runs in a fresh process, twice: once
for time and peak RSS growth (VmHWM, reset just before the build, minus the RSS then; on
other systems ru_maxrss, which includes the start-up), once under
tracemalloc for the peak of Python allocations (tracemalloc slows it down, so its time is
not shown). Each size is seeded twice: its batches with what the report shows of their rows
(as batches keep it), and without (as a failed batch: the report works it out from the rows).
With no MONGODB_URL it starts its own SecantusDB and also shows that server's
peak RSS growth during each build (Linux only).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bson import ObjectId

from config import Settings
from domain.batching import RowGrouper
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from store import db
from store.documents import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    JobStatus,
    RowResultRecord,
    utcnow,
)
from store.jobs.states import batch_id
from store.reports.rows import pack_details
from store.schema_changes.versions import attributes_json

DATABASE = "bcu_bench"
HEADER = ["First Name", "Last Name", "Email", "Phone", "City", "Notes"]
MAPPING = {
    "First Name": "firstName",
    "Last Name": "lastName",
    "Email": "email",
    "Phone": "phoneNumber",
    "City": "city",
}
PARTNER_GAP = 4_999  # a duplicate repeats the email of the row this far above it
INSERT_GROUP = 20  # batches per insert_many


def _customer_id(number: int) -> str:
    return f"{number:024x}"


def _rows(count: int) -> Iterator[tuple[BatchRow, RowResultRecord]]:
    """Rows in file order with their results: every 10th fails validation; rows 3 and 7
    of every 20 (past the first PARTNER_GAP) repeat an earlier row's email, and are updated
    or ignored; every other row is imported."""
    for number in range(1, count + 1):
        partner = number - PARTNER_GAP if number % 20 in (3, 7) and number > PARTNER_GAP else 0
        email = f"person{partner or number}@example.com"
        raw = [
            f"First{number}",
            f"Last{number}",
            email,
            f"+1 202 555 {number % 10_000:04d}",
            "Boston",
            f"customer since {2000 + number % 25}, prefers e-mail",
        ]
        if number % 10 == 0:
            raw[2] = f"not-an-email-{number}"
            error = f"Invalid email format: '{raw[2]}'"
            row = BatchRow(number=number, line=number + 1, raw=raw, errors=[error])
            yield row, RowResultRecord(number=number, outcome="failed", reason=error)
            continue
        values = {
            "firstName": raw[0],
            "lastName": raw[1],
            "email": [email],
            "phoneNumber": [f"+1202555{number % 10_000:04d}"],
            "city": raw[4],
        }
        row = BatchRow(number=number, line=number + 1, raw=raw, values=values)
        if partner and number % 20 == 3:
            result = RowResultRecord(
                number=number, outcome="updated", customer_id=_customer_id(partner)
            )
        elif partner:
            result = RowResultRecord(
                number=number,
                outcome="ignored",
                reason="Ignored - duplicate found",
                customer_id=_customer_id(partner),
            )
        else:
            result = RowResultRecord(
                number=number, outcome="imported", customer_id=_customer_id(number)
            )
        yield row, result


async def seed_job(rows: int, batch_size: int, details: bool = True) -> str:
    """A completed job of `rows` rows with its batches, as the pipeline leaves them (without
    what the report shows of each row when not `details`: as a failed batch, or one that
    finished before batches kept it, which the report works out from the rows)."""
    grouper = RowGrouper()
    for row, _ in _rows(rows):
        # As planning does: failed rows need no group; the others group by identifiers.
        grouper.add(() if row.errors else [("email", row.values["email"][0])])
    batch_of_row, sizes, _, _ = grouper.assign_batches(batch_size)
    started = utcnow()
    job = ImportJob(
        status=JobStatus.IN_PROGRESS,
        file_name=f"bench-{rows}.csv",
        file_id=None,
        action="append",
        deduplication_keys=["email"],
        mapping=MAPPING,
        header=HEADER,
        schema_attributes=attributes_json(DEFAULT_CUSTOMER_SCHEMA),
        started_at=started,
        total_rows=rows,
        batch_count=len(sizes),
    )
    await job.insert()
    job_id = str(job.id)
    pending: dict[int, list[tuple[BatchRow, RowResultRecord]]] = {}
    ready: list[dict[str, Any]] = []
    total = Counts()
    collection = ImportBatch.get_pymongo_collection()
    for index, pair in enumerate(_rows(rows)):
        seq = batch_of_row[index]
        members = pending.setdefault(seq, [])
        members.append(pair)
        if len(members) < sizes[seq]:
            continue
        del pending[seq]
        results = [result for _, result in members]
        counts = Counts.of([r.outcome for r in results])
        for name, value in counts.model_dump().items():
            setattr(total, name, getattr(total, name) + value)
        stored_rows = [row for row, _ in members]
        kept = None
        if details:
            dumped = ([r.model_dump() for r in stored_rows], [r.model_dump() for r in results])
            kept = pack_details(job, *dumped)
        batch = ImportBatch(
            id=batch_id(job_id, seq),
            job_id=job_id,
            seq=seq,
            rows=stored_rows,
            status=BatchStatus.DONE,
            attempts=1,
            results=results,
            counts=counts,
            packed_details=kept,
        )
        ready.append(batch.model_dump(by_alias=True, mode="python"))
        if len(ready) >= INSERT_GROUP:
            await collection.insert_many(ready)
            ready = []
    if ready:
        await collection.insert_many(ready)
    await ImportJob.get_pymongo_collection().update_one(
        {"_id": job.id},
        {
            "$set": {
                "status": JobStatus.COMPLETED,
                "counts": total.model_dump(),
                "processed_rows": rows,
                "finished_at": utcnow(),
            }
        },
    )
    return job_id


# --- measuring, in a fresh process --------------------------------------------------------


def _proc_status_kib(pid: int | str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak(pid: int | str) -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where that is not
    possible (not Linux)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def measure(job_id: str, target: str, trace: bool) -> dict[str, Any]:
    from store import reports

    settings = Settings()
    await db.connect(settings)
    job = await ImportJob.get(ObjectId(job_id))
    assert job is not None, job_id
    gc.collect()
    hwm_reset = _reset_peak("self")
    rss_before = _proc_status_kib("self", "VmRSS") or 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    size = 0
    if target == "report":
        file_id = await reports.build_report(job)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        stored = await db.database()["reports.files"].find_one({"_id": file_id})
        size = int(stored["length"]) if stored else 0
    else:
        async for chunk in reports.failed_rows_csv(job):
            size += len(chunk)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
    if hwm_reset:
        max_rss = _proc_status_kib("self", "VmHWM") or 0
    else:  # the lifetime peak: startup included
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    await db.disconnect()
    return {
        "seconds": seconds,
        "rss_growth_kib": max_rss - rss_before,
        "tracemalloc_peak": peak,
        "bytes": size,
    }


def _run_measure(job_id: str, target: str, trace: bool, env: dict[str, str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.report", "--measure", job_id, "--target", target]
    if trace:
        argv.append("--tracemalloc")
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


class ServerMemory:
    """Peak RSS growth of the SecantusDB process we started (Linux: clear_refs resets the
    high-water mark)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.before = 0

    def reset(self) -> None:
        if self.pid is None:
            return
        if not _reset_peak(self.pid):
            self.pid = None
            return
        self.before = _proc_status_kib(self.pid, "VmRSS") or 0

    def growth_mib(self) -> str:
        if self.pid is None:
            return "-"
        peak = _proc_status_kib(self.pid, "VmHWM") or 0
        return f"{(peak - self.before) / 1024:.1f}"


# Each size twice: batches with what the report shows of their rows, as batches now keep
# it, and without (failed batches, or finished before batches kept it).
DETAILS = {"kept": True, "worked out": False}


async def _seed_all(
    sizes: list[int], batch_size: int, settings: Settings
) -> dict[tuple[int, str], str]:
    await _drop(str(settings.mongodb_url))
    await db.connect(settings)
    jobs = {}
    for rows in sizes:
        for details, kept in DETAILS.items():
            started = time.perf_counter()
            jobs[rows, details] = await seed_job(rows, batch_size, kept)
            seconds = time.perf_counter() - started
            print(f"seeded {rows} rows (details {details}) in {seconds:.1f} s", flush=True)
    await db.disconnect()
    return jobs


async def _drop(url: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    await client.drop_database(DATABASE)
    await client.close()


def run(sizes: list[int], batch_size: int) -> None:
    from stack.processes import start_mongo, stop_all

    workdir = Path(tempfile.mkdtemp(prefix="bcu-bench-report-"))
    started = []
    env = dict(os.environ, MONGODB_DATABASE=DATABASE)
    server_pid = None
    try:
        if not env.get("MONGODB_URL"):
            mongo, env["MONGODB_URL"] = start_mongo(workdir / "mongodb", workdir / "mongodb.log")
            started.append(mongo)
            server_pid = mongo.proc.pid if mongo.proc else None
        settings = Settings(mongodb_url=env["MONGODB_URL"], mongodb_database=DATABASE)
        jobs = asyncio.run(_seed_all(sizes, batch_size, settings))
        server = ServerMemory(server_pid)
        print(
            f"{'rows':>8} {'what':<6} {'details':<10} {'time s':>7} {'RSS growth MiB':>15} "
            f"{'tracemalloc peak MiB':>21} {'server growth MiB':>18} {'output KiB':>11}"
        )
        for (rows, details), job_id in jobs.items():
            for target in ("report", "csv"):
                server.reset()
                timed = _run_measure(job_id, target, False, env)
                server_growth = server.growth_mib()
                traced = _run_measure(job_id, target, True, env)
                print(
                    f"{rows:>8} {target:<6} {details:<10} {timed['seconds']:>7.2f} "
                    f"{timed['rss_growth_kib'] / 1024:>15.1f} "
                    f"{traced['tracemalloc_peak'] / 2**20:>21.1f} {server_growth:>18} "
                    f"{timed['bytes'] / 1024:>11.0f}",
                    flush=True,
                )
        asyncio.run(_drop(env["MONGODB_URL"]))
    finally:
        stop_all(started)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--measure", metavar="JOB_ID", help=argparse.SUPPRESS)
    parser.add_argument("--target", choices=["report", "csv"], default="report")
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.target, args.tracemalloc))))
        return
    run(args.rows, args.batch_size)


if __name__ == "__main__":
    main()
