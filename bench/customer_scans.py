"""Customer filters that read every customer (`GET /customers?lastName=…`), ten at once, while
`/health` and lookups by email are timed every 100 ms: what issue 19 item 9 measured (ten
scans on 94,000 customers took 18-35 s, /health went 503, email lookups 0.03 s -> 24.5 s).

    flock /work/locks/bench.lock .venv/bin/python -m bench.customer_scans [--customers N ...]

Runs the API (uvicorn) of the current directory's code, on embedded servers unless
MONGODB_URL / REDIS_URL are set, with 20,000 customers (as many as a scan may read by
default) then 94,000; the scans come from one API key, then from ten keys."""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.harness import API_KEY, AppStack, Servers, start_servers
from stack.processes import Child, stop_all

SCANS = 10
PROBE_INTERVAL = 0.1
SEED_CHUNK = 5_000


def seed(mongo_url: str, database: str, count: int) -> None:
    """`count` customers with an email each (and its claim, so lookups go by it)."""
    with MongoClient(mongo_url) as client:
        db = client[database]
        for start in range(0, count, SEED_CHUNK):
            customers, claims = [], []
            for n in range(start, min(count, start + SEED_CHUNK)):
                cid = ObjectId()
                email = f"c{n}@example.com"
                attributes = {"firstName": f"F{n}", "lastName": f"L{n % 500}", "email": [email]}
                customers.append({"_id": cid, "attributes": {**attributes, "city": "Oslo"}})
                claims.append({"_id": f"email:{email}", "c": str(cid)})
            db.customers.insert_many(customers)
            db.identifier_claims.insert_many(claims)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def probe(url: str, customers: int, done: Any, results: Any) -> None:
    """In a process of its own, on kept-alive connections (as a monitor polls): what it
    times is the service, not the scans' client threads competing with it here."""
    admin = {"Authorization": f"Bearer {API_KEY}"}
    health: list[tuple[int, float]] = []
    lookups: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        n = 0
        while not done.is_set():
            started = time.monotonic()
            status = client.get("/health").status_code
            health.append((status, time.monotonic() - started))
            started = time.monotonic()
            email = f"c{(n * 7919) % customers}@example.com"
            client.get("/customers", params={"email": email}, headers=admin)
            lookups.append(time.monotonic() - started)
            n += 1
            time.sleep(PROBE_INTERVAL)
    results.put((health, lookups))


def measure(url: str, keys: list[str], customers: int) -> str:
    scans: list[tuple[int, float]] = []
    done, results = multiprocessing.Event(), multiprocessing.Queue()

    def scan(n: int) -> None:
        headers = {"Authorization": f"Bearer {keys[n % len(keys)]}"}
        started = time.monotonic()
        answer = httpx.get(
            f"{url}/customers", params={"lastName": f"L{n}"}, headers=headers, timeout=180
        )
        scans.append((answer.status_code, time.monotonic() - started))

    prober = multiprocessing.Process(target=probe, args=(url, customers, done, results))
    prober.start()
    time.sleep(1)  # a baseline before the scans start
    started = time.monotonic()
    threads = [threading.Thread(target=scan, args=(n,)) for n in range(SCANS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done.set()
    health, lookups = results.get(timeout=120)
    prober.join()
    statuses = ", ".join(
        f"{status}: {sum(1 for s, _ in scans if s == status)}"
        for status in sorted({s for s, _ in scans})
    )
    answered = [seconds for _, seconds in scans]
    health_seconds = [seconds for _, seconds in health]
    return (
        f"| {len(keys)} | {statuses} | {min(answered):.2f} / {max(answered):.2f} | {elapsed:.1f} "
        f"| {statistics.median(health_seconds) * 1000:.0f} / "
        f"{_percentile(health_seconds, 0.95) * 1000:.0f} / {max(health_seconds) * 1000:.0f} "
        f"| {sum(1 for s, _ in health if s != 200)} "
        f"| {statistics.median(lookups) * 1000:.0f} / {max(lookups) * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 94_000])
    args = parser.parse_args()
    children: list[Child] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-scans-"))
    try:
        servers = start_servers(workdir, children)
        for count in args.customers:
            run(servers, workdir / f"app-{count}", count)
    finally:
        stop_all(children)


def run(servers: Servers, workdir: Path, customers: int) -> None:
    with AppStack(servers, workdir) as stack:
        seed(servers.mongo_url, stack.database, customers)
        admin = {"Authorization": f"Bearer {API_KEY}"}
        keys = [
            httpx.post(
                f"{stack.url}/api-keys",
                json={"name": f"viewer {n}", "role": "viewer"},
                headers=admin,
                timeout=30,
            ).json()["key"]
            for n in range(SCANS)
        ]
        print(f"\n{customers:,} customers, {SCANS} scans at once (lastName=…)")
        print(
            "| keys | scan answers | scan s min / max | all done s "
            "| /health ms p50 / p95 / max | /health not 200 | email lookup ms p50 / max |"
        )
        print("|--:|---|--:|--:|--:|--:|--:|")
        print(measure(stack.url, [API_KEY], customers), flush=True)
        time.sleep(3)
        print(measure(stack.url, keys, customers), flush=True)


if __name__ == "__main__":
    main()
