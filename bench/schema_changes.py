"""Schema changes (issue 25) through the HTTP API, on N customers, with the processes
`make run` starts (UI aside) against the embedded SecantusDB:

1. POST /record-types/customers/schema/attributes adding `company` (no customer holds it);
2. `memberCode`, held by every customer, made a channel identifier (PUT, every value claimed);
   the floor: insert_many of as many claim documents into a scratch collection;
3. `loyaltyPoints` retyped from number to string with force=true (PUT);
4. the version before step 3 restored (force=true: the values become numbers again);
5. GET /health latency polled without pause while 2 and 3 run, and while idle;
6. GET /api-keys with 1,000 keys.

    .venv/bin/python -m bench.schema_changes [--customers 20000] [--modes "replica set"]

The customers are loaded, untimed, by insert_many (bench.data's documents plus the two
attributes above); no claims are made for their emails and phones (no step reads them).
Writes bench/results/schema_changes.md and .json. Run it under
`flock /work/locks/bench.lock` on a shared machine."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.data import customer_documents
from bench.harness import (
    API_KEY,
    REPLICA_SET,
    STANDALONE,
    AppStack,
    CpuUse,
    ServerCounters,
    Servers,
    start_servers,
)
from bench.render import machine_info, save_results
from bench.schema_database import (
    IDENTIFIER_KEY,
    NUMBER_KEY,
    claims_floor,
    retype_floor,
    stored_state,
)
from stack.processes import Child, stop_all
from store.schema_changes.migration import WRITE_CHUNK

HEALTH_SAMPLE_SECONDS = 0.05  # between two idle /health requests

COMMAND = ".venv/bin/python -m bench.schema_changes"
SCHEMA = "/record-types/customers/schema"
API_KEYS = 1_000
LIST_SAMPLES = 10
IDLE_HEALTH_SAMPLES = 50


def client_for(stack: AppStack) -> httpx.Client:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=stack.url, headers=headers, timeout=None)


def checked(answer: httpx.Response, expected: int) -> httpx.Response:
    if answer.status_code != expected:
        request = f"{answer.request.method} {answer.request.url.path}"
        raise RuntimeError(f"{request} answered {answer.status_code}: {answer.text[:500]}")
    return answer


def load_customers(stack: AppStack, client: httpx.Client, customers: int) -> None:
    """The two attributes added to the schema, then `customers` documents holding them."""
    for key, kind in ((NUMBER_KEY, "number"), (IDENTIFIER_KEY, "string")):
        checked(
            client.post(f"{SCHEMA}/attributes", json={"key": key, "label": key, "type": kind}), 201
        )
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url)
    with mongo:
        collection = mongo[stack.database]["customers"]
        for start in range(0, customers, WRITE_CHUNK):
            docs = customer_documents(start, min(customers, start + WRITE_CHUNK))
            for number, doc in enumerate(docs, start):
                doc["attributes"] |= {NUMBER_KEY: number, IDENTIFIER_KEY: f"M{number:08d}"}
            collection.insert_many(docs, ordered=False)


class HealthPoller(threading.Thread):
    """GET /health one after the other, without pause, until stopped; keeps each latency."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self.failures = url, list[float](), 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop_event.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get("/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - started)
                self.failures += not ok

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join(timeout=35)
        return latency_summary(self.latencies) | {"failures": self.failures}


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "samples": len(latencies),
        "median_ms": statistics.median(latencies) * 1000 if latencies else None,
        "worst_ms": max(latencies) * 1000 if latencies else None,
        "over_1s": sum(1 for s in latencies if s > 1.0),
    }


@contextmanager
def watched(stack: AppStack) -> Iterator[dict[str, Any]]:
    """Yields a dict filled on exit with the request's /health latencies and CPU use."""
    found: dict[str, Any] = {}
    poller = HealthPoller(stack.url)
    poller.start()
    with CpuUse().measure() as cpu:
        yield found
    found.update(health=poller.stop(), cpu=cpu)


def timed(call: Callable[[], httpx.Response], expected: int) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = call()
    seconds = time.perf_counter() - started
    return checked(answer, expected), seconds


def with_attribute(
    client: httpx.Client, key: str, **change: Any
) -> tuple[list[dict[str, Any]], str]:
    """The schema's attributes with `key`'s fields changed, and the schema's ETag."""
    answer = checked(client.get(SCHEMA), 200)
    attributes = answer.json()["attributes"]
    for attribute in attributes:
        if attribute["key"] == key:
            attribute |= change
    return attributes, answer.headers["ETag"]


def put_changed(
    stack: AppStack, client: httpx.Client, key: str, force: bool, **change: Any
) -> dict[str, Any]:
    attributes, etag = with_attribute(client, key, **change)
    params = {"force": "true"} if force else {}
    with watched(stack) as found:
        _, seconds = timed(
            lambda: client.put(
                SCHEMA, json={"attributes": attributes}, params=params, headers={"If-Match": etag}
            ),
            200,
        )
    return found | {"seconds": seconds}


def list_keys(client: httpx.Client) -> dict[str, Any]:
    for number in range(API_KEYS):
        body = {"name": f"bench {number}", "role": "importer"}
        while (answer := client.post("/api-keys", json=body)).status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After", "1")))  # the key's rate limit
        checked(answer, 201)
    latencies, listed = [], 0
    for _ in range(LIST_SAMPLES):
        answer, seconds = timed(lambda: client.get("/api-keys"), 200)
        latencies.append(seconds)
        listed = len(answer.json()["items"])
    return latency_summary(latencies) | {"keys_listed": listed}


def idle_health(stack: AppStack) -> dict[str, Any]:
    latencies = []
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        for _ in range(IDLE_HEALTH_SAMPLES):
            _, seconds = timed(lambda: client.get("/health"), 200)
            latencies.append(seconds)
            time.sleep(HEALTH_SAMPLE_SECONDS)
    return latency_summary(latencies)


def run_mode(servers: Servers, workdir: Path, customers: int) -> dict[str, Any]:
    found: dict[str, Any] = {"mode": servers.mode}
    stack = AppStack(servers, workdir / servers.mode.replace(" ", "-"), make_run=True)
    with stack, client_for(stack) as client:
        print(f"[schema] {servers.mode}: loading {customers:,} customers…", flush=True)
        load_customers(stack, client, customers)
        found["idle_health"] = idle_health(stack)
        print("[schema] 1. add company", flush=True)
        company = {"key": "company", "label": "Company", "type": "string"}
        _, found["add_seconds"] = timed(
            lambda: client.post(f"{SCHEMA}/attributes", json=company), 201
        )
        print(f"[schema] 2. {IDENTIFIER_KEY} becomes a channel identifier", flush=True)
        found["identifier"] = put_changed(
            stack, client, IDENTIFIER_KEY, False, channelIdentifier=True
        )
        found["identifier"]["floor_seconds"] = claims_floor(stack, customers)
        version = int(checked(client.get(SCHEMA), 200).headers["ETag"].strip('"'))
        print(f"[schema] 3. {NUMBER_KEY} number → string, force", flush=True)
        found["retype"] = put_changed(stack, client, NUMBER_KEY, True, type="string")
        found["after_retype"] = stored_state(stack)
        print("[schema] 4. restore the version before the retype", flush=True)
        restore = f"{SCHEMA}/versions/{version}/restore"
        _, found["restore_seconds"] = timed(
            lambda: client.post(restore, params={"force": "true"}), 200
        )
        found["after_restore"] = stored_state(stack)
        found["retype"]["floor_seconds"] = retype_floor(stack)
        print(f"[schema] 6. GET /api-keys with {API_KEYS:,} keys", flush=True)
        found["api_keys"] = list_keys(client)
    return found


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def render(report: dict[str, Any]) -> str:
    m, customers = report["machine"], report["args"]["customers"]
    lines = [
        "# Schema changes and API keys (issue 25)",
        "",
        f"- Run: {report['started']} → {report['finished']}; command: `{report['command']}`"
        " (under `flock /work/locks/bench.lock`)",
        f"- Machine: nproc {m['nproc']} (usable {m['usable_cpus']}), {m['cpu']},"
        f" {m['memory_gib']} GiB RAM, Python {m['python']}, {m['platform']}",
        f"- Server: {m['mongodb']}, embedded, started by the bench; Redis started by the bench",
        f"- Product: the processes `make run` starts but the UI; code at {m['git_commit']}"
        + (f" + {n} uncommitted files" if (n := m.get("git_changed_files")) else ""),
        f"- {customers:,} customers loaded by insert_many (untimed), each holding"
        f" `{NUMBER_KEY}` (number) and `{IDENTIFIER_KEY}` (a distinct string)",
        "",
        "| server mode | measurement | seconds | rows/s | /health median ms | /health worst ms"
        " | /health > 1 s | other CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["modes"]:
        mode, ident, retype = r["mode"], r["identifier"], r["retype"]
        idle = r["idle_health"]
        lines.append(
            f"| {mode} | /health, idle ({idle['samples']} requests) | | | {_ms(idle['median_ms'])}"
            f" | {_ms(idle['worst_ms'])} | {idle['over_1s']} | |"
        )
        lines.append(
            f"| {mode} | 1. POST .../attributes `company` | {r['add_seconds']:.3f} | | | | | |"
        )
        for name, step in (
            (f"2. `{IDENTIFIER_KEY}` made a channel identifier (PUT)", ident),
            (f"3. `{NUMBER_KEY}` number → string, force (PUT)", retype),
        ):
            health = step["health"]
            lines.append(
                f"| {mode} | {name} | {step['seconds']:.2f} | {customers / step['seconds']:,.0f}"
                f" | {_ms(health['median_ms'])} | {_ms(health['worst_ms'])}"
                f" ({health['samples']} requests) | {health['over_1s']}"
                f" | {step['cpu']['other_cores']:.2f} |"
            )
        floor = ident["floor_seconds"]
        lines += [
            f"| {mode} | 2'. floor: insert_many of {customers:,} claim documents"
            f" | {floor:.2f} | {customers / floor:,.0f} | | | | |",
            f"| {mode} | 3'. floor: bulk_write of the {customers:,} updates of 3"
            f" | {retype['floor_seconds']:.2f} | {customers / retype['floor_seconds']:,.0f}"
            " | | | | |",
            f"| {mode} | 4. restore the version before 3 (force) | {r['restore_seconds']:.2f}"
            f" | {customers / r['restore_seconds']:,.0f} | | | | |",
            f"| {mode} | 6. GET /api-keys, {r['api_keys']['keys_listed']:,} keys"
            f" ({r['api_keys']['samples']} requests) | median {_ms(r['api_keys']['median_ms'])} ms,"
            f" worst {_ms(r['api_keys']['worst_ms'])} ms | | | | | |",
        ]
    lines += ["", "Checks (from the database after the step):", ""]
    for r in report["modes"]:
        lines.append(
            f"- {r['mode']}: after 3 {json.dumps(r['after_retype'])}; after 4"
            f" {json.dumps(r['after_restore'])}"
        )
    lines += [
        "",
        "## How to read it",
        "",
        "- seconds: the HTTP request's duration (the change is done, values moved, when it"
        " answers); rows/s: customers / seconds.",
        "- /health: requests one after the other, without pause, from another thread while the"
        " change runs; idle: the same before any change.",
        "- other CPU: cores used by processes this run did not start, during the change.",
        "- step 2's floor: the database alone writing as many claims, as the change writes them"
        f" (chunks of {WRITE_CHUNK:,}, unordered), without reading the customers. Step 3's"
        " floor: the same, of the updates the retype makes (by `_id` and the value read:"
        " $set of the text and `updated_at`, $inc of `rev`), measured after step 4.",
    ]
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument(
        "--modes", nargs="+", default=[REPLICA_SET], choices=[REPLICA_SET, STANDALONE]
    )
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bcu-schema-"))
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds")}
    report.update(command=COMMAND, args=vars(args) | {"results": str(args.results)}, modes=[])
    try:
        for mode in args.modes:
            children: list[Child] = []
            try:
                servers = start_servers(workdir, children, mode)
                if "machine" not in report:
                    counters = ServerCounters(servers.mongo_url)
                    report["machine"] = machine_info(counters, servers)
                    counters.close()
                report["modes"].append(run_mode(servers, workdir, args.customers))
            finally:
                stop_all(children)
        report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        print(save_results(report, args.results, "schema_changes", render))
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        if workdir.exists():
            print(f"[schema] logs kept in {workdir}")


if __name__ == "__main__":
    main()
