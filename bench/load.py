"""`python -m bench.load`: everything at once for a minute (not part of `make test`): three
overlapping imports of 20,000 rows, 10 bulk requests a second of 100 customers each and 20
status polls a second, against the API and the workers (2 processes x 2 threads) as real
processes. Afterwards nothing is lost, no identifier value is held twice and every count is
exact; it prints the throughput of each and the p50/p99 latency of polls and bulk calls."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.harness import API_KEY, DATABASE, AppStack, start_servers
from stack.processes import stop_all

HEADER = "firstName,email,phoneNumber,city\r\n"
IMPORTS = 3
BAD_EVERY = 1000  # one row in this many has an invalid email


def import_file(start: int, rows: int) -> bytes:
    """Rows start..start+rows-1; the next file starts half-way through this one, with the
    same rows there (whichever import gets to them first inserts, the other updates)."""
    lines = [HEADER]
    for k in range(start, start + rows):
        email = f"bad-{k}" if k % BAD_EVERY == BAD_EVERY - 1 else f"load{k}@example.com"
        lines.append(f"Load{k},{email},+336{30_000_000 + k:08d},City{k % 7}\r\n")
    return "".join(lines).encode()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Paced(threading.Thread):
    """Calls `call(n)` `rate` times a second for `seconds`, each on a pool thread (a slow
    answer does not delay the next call); keeps each call's latency and result."""

    def __init__(self, rate: float, seconds: float, call: Any) -> None:
        super().__init__(daemon=True)
        self.rate, self.seconds, self.call = rate, seconds, call
        self.latencies: list[float] = []
        self.results: list[Any] = []
        self.elapsed = 0.0

    def _timed(self, n: int) -> None:
        started = time.monotonic()
        result = self.call(n)
        self.latencies.append(time.monotonic() - started)
        self.results.append(result)

    def run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=32) as pool:
            n = 0
            while (due := started + n / self.rate) < started + self.seconds:
                time.sleep(max(0.0, due - time.monotonic()))
                pool.submit(self._timed, n)
                n += 1
        self.elapsed = time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per import")
    parser.add_argument("--bulk-rate", type=float, default=10.0)
    parser.add_argument("--bulk-size", type=int, default=100)
    parser.add_argument("--poll-rate", type=float, default=20.0)
    args = parser.parse_args()

    children: list[Any] = []
    workdir = Path(tempfile.mkdtemp(prefix="bcu-load-"))
    try:
        servers = start_servers(workdir, children)
        with AppStack(servers, workdir / "app") as stack:
            return run(stack, servers.mongo_url, args)
    finally:
        stop_all(children)


def run(stack: AppStack, mongo_url: str, args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    client = httpx.Client(base_url=stack.url, headers=headers, timeout=120)
    step = args.rows // 2
    config = json.dumps({"deduplicationKeys": ["email"], "action": "append"})
    started = time.monotonic()
    job_ids = []
    for n in range(IMPORTS):
        response = client.post(
            "/imports",
            files={"file": (f"load{n}.csv", import_file(n * step, args.rows), "text/csv")},
            data={"config": config},
        )
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["id"])

    def bulk(n: int) -> dict[str, Any]:
        customers = [
            {"firstName": f"Bulk{n}", "email": [f"bulk{n}-{i}@example.com"]}
            for i in range(args.bulk_size)
        ]
        body = {"action": "append", "deduplicationKeys": ["email"], "customers": customers}
        answer = client.post("/customers/bulkCustomers", json=body)
        result: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return result

    def poll(n: int) -> int:
        return client.get(f"/imports/{job_ids[n % IMPORTS]}").status_code

    bulks = Paced(args.bulk_rate, args.seconds, bulk)
    polls = Paced(args.poll_rate, args.seconds, poll)
    bulks.start()
    polls.start()
    bulks.join()
    polls.join()
    jobs = []
    for job_id in job_ids:
        while (job := client.get(f"/imports/{job_id}").json())["status"] in (
            "pending",
            "in_progress",
        ):
            time.sleep(0.5)
        jobs.append(job)
    imports_seconds = time.monotonic() - started

    problems = check(jobs, bulks.results, polls.results, mongo_url, args)
    rows = IMPORTS * args.rows
    rate = rows / imports_seconds
    print(f"imports: {rows:,} rows in {imports_seconds:.1f} s, {rate:,.0f} rows/s")
    sent = len(bulks.results) * args.bulk_size
    print(
        f"bulk: {len(bulks.results)} requests ({len(bulks.results) / bulks.elapsed:.1f}/s), "
        f"{sent / bulks.elapsed:,.0f} customers/s; latency p50 "
        f"{percentile(bulks.latencies, 0.5) * 1000:.0f} ms, p99 "
        f"{percentile(bulks.latencies, 0.99) * 1000:.0f} ms"
    )
    print(
        f"polls: {len(polls.results)} ({len(polls.results) / polls.elapsed:.1f}/s); latency "
        f"p50 {percentile(polls.latencies, 0.5) * 1000:.0f} ms, p99 "
        f"{percentile(polls.latencies, 0.99) * 1000:.0f} ms, mean "
        f"{statistics.fmean(polls.latencies or [0]) * 1000:.0f} ms"
    )
    print("checks: " + ("all exact" if not problems else "; ".join(problems)))
    return 1 if problems else 0


def check(
    jobs: list[dict[str, Any]],
    bulk_results: list[dict[str, Any]],
    poll_results: list[int],
    mongo_url: str,
    args: argparse.Namespace,
) -> list[str]:
    problems = []
    step = args.rows // 2
    unique_rows = (IMPORTS + 1) * step  # the files overlap by half
    bad = sum(1 for k in range(unique_rows) if k % BAD_EVERY == BAD_EVERY - 1)
    total = {k: sum(j["counts"][k] for j in jobs) for k in jobs[0]["counts"]}
    expected = {
        "total": IMPORTS * args.rows,
        "imported": unique_rows - bad,
        "failed": sum(
            1
            for n in range(IMPORTS)
            for k in range(n * step, n * step + args.rows)
            if k % BAD_EVERY == BAD_EVERY - 1
        ),
    }
    expected["updated"] = expected["total"] - expected["imported"] - expected["failed"]
    if [j["status"] for j in jobs] != ["completed"] * IMPORTS:
        problems.append(f"imports ended {[j['status'] for j in jobs]}")
    if {k: total[k] for k in expected} != expected:
        problems.append(f"import counts {total}, expected {expected}")
    inserted = sum(r.get("insertedCount", 0) for r in bulk_results)
    if inserted != len(bulk_results) * args.bulk_size:
        problems.append(f"bulk inserted {inserted} of {len(bulk_results) * args.bulk_size}")
    if any(code != 200 for code in poll_results):
        problems.append(f"{sum(code != 200 for code in poll_results)} polls failed")
    with MongoClient(mongo_url) as mongo:
        customers = mongo[DATABASE]["customers"]
        stored = customers.count_documents({})
        if stored != expected["imported"] + inserted:
            problems.append(f"{stored} customers, expected {expected['imported'] + inserted}")
        for key in ("email", "phoneNumber"):
            held_twice = list(
                customers.aggregate(
                    [
                        {"$unwind": f"$attributes.{key}"},
                        {"$group": {"_id": f"$attributes.{key}", "n": {"$sum": 1}}},
                        {"$match": {"n": {"$gt": 1}}},
                        {"$limit": 3},
                    ]
                )
            )
            if held_twice:
                problems.append(f"{key} values held twice: {held_twice}")
    return problems


if __name__ == "__main__":
    raise SystemExit(main())
