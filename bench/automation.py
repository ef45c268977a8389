"""Measurements of the automation of DESIGN.md §7, in one run on one machine, with the
processes `make run` starts (UI aside) and its default workers:

1. the same CSV imported by upload, from a URL source (a loopback HTTP server) and from an
   S3 source (moto's server mode): seconds each, the ratio of each to the upload, counts;
2. webhook delivery latency, from the job's `finished_at` to the receiver's arrival time
   (loopback receiver), over a series of imports; and a receiver answering 500 then 200;
3. Idempotency-Key: a replayed POST /imports against the first one;
4. a schedule's "run now" to its import's start.

    .venv/bin/python -m bench.automation [--rows 20000] [--imports 10] [--keys 20] [--runs 3]

Writes bench/results/automation.md and .json. Starts its own SecantusDB and redis-server
unless MONGODB_URL / REDIS_URL are set; everything listens on 127.0.0.1. Run it under
`flock /work/locks/bench.lock` on a shared machine."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from standardwebhooks.webhooks import Webhook

from bench import data
from bench.api_import import http_import, import_parts, job_document, wait_for_job
from bench.harness import (
    API_KEY,
    AppStack,
    CpuUse,
    ServerCounters,
    Servers,
    start_servers,
    wait_quiet,
)
from bench.render import machine_info, save_results
from config import Settings
from stack.processes import Child, start_s3, stop_all
from store.sources import s3_client
from tests.loopback import Loopback, Received, Served, loopback_server

SMALL_ROWS = 100  # the file of the webhook, Idempotency-Key and schedule measurements
BUCKET, KEY = "crm-exports", "nightly/customers.csv"
CONFIG = {"deduplicationKeys": ["email"], "action": "ignore"}
QUIET_SECONDS = 20.0  # longest wait for other processes to calm down before an import
ARRIVAL_TIMEOUT = 60.0
COMMAND = ".venv/bin/python -m bench.automation"


def client_for(stack: AppStack) -> httpx.Client:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=stack.url, headers=headers, timeout=60)


def seconds_between(document: dict[str, Any], start: str, end: str) -> float | None:
    a, b = document.get(start), document.get(end)
    return (b - a).total_seconds() if a and b else None


def import_three_ways(
    servers: Servers, workdir: Path, env: dict[str, str], path: Path, web: Loopback, rows: int
) -> dict[str, Any]:
    """The same file uploaded, from the URL and from S3, each on a fresh database and stack."""
    sources: dict[str, dict[str, Any] | None] = {
        "upload": None,
        "url": {"url": f"{web.url}/exports/{path.name}"},
        "s3": {"s3": {"bucket": BUCKET, "key": KEY}},
    }
    found: dict[str, Any] = {}
    for name, source in sources.items():
        print(f"[automation] {rows:,} rows by {name}…", flush=True)
        with AppStack(servers, workdir / f"import-{name}", make_run=True, env=env) as stack:
            waited = wait_quiet(QUIET_SECONDS)
            with CpuUse().measure() as cpu:
                result = http_import(stack, "ignore", rows, None if source else path, 600, source)
            result["cpu"] = {**cpu, "waited_for_quiet": waited}
        found[name] = result
        print(f"[automation]     {result['status']} in {result['seconds']:.1f} s", flush=True)
    upload = found["upload"]["seconds"]
    for result in found.values():
        result["vs_upload"] = result["seconds"] / upload
    found["counts_equal"] = len({json.dumps(found[n]["counts"]) for n in sources}) == 1
    return found


def arrival(
    web: Loopback, path: str, count: int, timeout: float = ARRIVAL_TIMEOUT
) -> list[Received]:
    """The first `count` requests the receiver got at `path`, once it has them."""
    deadline = time.monotonic() + timeout
    while len(got := web.posts_to(path)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} received {len(got)} of {count} in {timeout:.0f} s")
        time.sleep(0.02)
    return got[:count]


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def webhook_latency(stack: AppStack, web: Loopback, path: Path, imports: int) -> dict[str, Any]:
    """Imports one after the other, each awaited until its import.completed arrives."""
    with client_for(stack) as client:
        answer = client.post(
            "/webhooks",
            json={"url": f"{web.url}/hook", "events": ["import.completed"], "description": "bench"},
        ).raise_for_status()
    hook = answer.json()
    verifier = Webhook(hook["secret"])
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url, tz_aware=True)
    deliveries = mongo[stack.database]["webhook_deliveries"]
    samples = []
    with mongo:
        for number in range(1, imports + 1):
            result = http_import(stack, "ignore", SMALL_ROWS, path, 120)
            received = arrival(web, "/hook", number)[-1]
            event = verifier.verify(received.body, lowered(received.headers))
            assert event["data"]["id"] == result["job_id"], "an event of another import arrived"
            job = job_document(stack.servers.mongo_url, stack.database, result["job_id"])
            delivery = deliveries.find_one({"import_id": result["job_id"]}) or {}
            finished = job["finished_at"].timestamp()
            samples.append(
                {
                    "latency": received.at - finished,
                    "announced": delivery["created_at"].timestamp() - finished,
                    "sent": received.at - delivery["created_at"].timestamp(),
                }
            )
    return {
        "imports": imports,
        "samples": samples,
        **summary("latency", [s["latency"] for s in samples]),
        **summary("announced", [s["announced"] for s in samples]),
        **summary("sent", [s["sent"] for s in samples]),
        "retry": webhook_retry(stack, web, hook["id"], verifier),
    }


def webhook_retry(
    stack: AppStack, web: Loopback, hook_id: str, verifier: Webhook
) -> dict[str, Any]:
    """A test event to a receiver that answers 500, then 200."""
    before = len(web.posts_to("/hook"))
    web.answers.append(500)
    with client_for(stack) as client:
        client.post(f"/webhooks/{hook_id}/test").raise_for_status()
    first, second = arrival(web, "/hook", before + 2)[before:]
    ids = [lowered(r.headers)["webhook-id"] for r in (first, second)]
    for attempt in (first, second):
        verifier.verify(attempt.body, lowered(attempt.headers))
    return {"ids": ids, "same_id": ids[0] == ids[1], "gap": second.at - first.at}


def summary(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}_median": statistics.median(values), f"{name}_worst": max(values)}


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = call()
    return answer, time.perf_counter() - started


def idempotent_posts(stack: AppStack, path: Path, keys: int) -> dict[str, Any]:
    """Per key: the first POST /imports, then the same request again (its replay)."""
    content = path.read_bytes()
    firsts, replays, starts = [], [], []
    with client_for(stack) as client, MongoClient(stack.servers.mongo_url) as mongo:
        jobs = mongo[stack.database]["import_jobs"]
        before = jobs.count_documents({})
        for _ in range(keys):
            headers = {"Idempotency-Key": f"bench-{uuid.uuid4()}"}

            def post(headers: dict[str, str] = headers) -> httpx.Response:
                parts = import_parts(CONFIG, content, path.name)
                return client.post("/imports", files=parts, headers=headers)

            posted_at = time.time()
            first, first_seconds = timed(post)
            replay, replay_seconds = timed(post)
            if first.status_code != 202 or replay.json() != first.json():
                raise RuntimeError(f"first {first.text[:300]}; replay {replay.text[:300]}")
            if replay.headers.get("Idempotent-Replayed") != "true":
                raise RuntimeError(f"the replay is not marked replayed: {replay.headers}")
            firsts.append(first_seconds)
            replays.append(replay_seconds)
            job_id = first.json()["id"]
            wait_for_job(stack, client, job_id, time.perf_counter(), 120)  # under the key's limit
            job = job_document(stack.servers.mongo_url, stack.database, job_id)
            starts.append(job["started_at"].timestamp() - posted_at)
        made = jobs.count_documents({}) - before
    return {
        "keys": keys,
        "imports_made": made,
        **summary("first", firsts),
        **summary("replay", replays),
        **summary("upload_start", starts),
    }


def schedule_run_now(stack: AppStack, web: Loopback, path: Path, runs: int) -> dict[str, Any]:
    """A schedule of the URL of `path`, run now `runs` times, each awaited until it ends."""
    body = {
        "name": "bench nightly",
        "source": {"url": f"{web.url}/exports/{path.name}"},
        "config": CONFIG,
        "cron": "0 2 * * *",
        "timezone": "Europe/Paris",
        "enabled": True,
        "skipUnchanged": False,
    }
    answers, starts, statuses = [], [], []
    with client_for(stack) as client:
        schedule = client.post("/schedules", json=body).raise_for_status().json()
        for _ in range(runs):
            asked_at = time.time()
            answer, seconds = timed(lambda: client.post(f"/schedules/{schedule['id']}/run"))
            if answer.status_code != 202:
                raise RuntimeError(f"run now answered {answer.status_code}: {answer.text[:300]}")
            job_id = answer.json()["id"]
            job, _ = wait_for_job(stack, client, job_id, time.perf_counter(), 120)
            document = job_document(stack.servers.mongo_url, stack.database, job_id)
            answers.append(seconds)
            starts.append(document["started_at"].timestamp() - asked_at)
            statuses.append(job["status"])
    return {
        "runs": runs,
        "statuses": statuses,
        **summary("answer", answers),
        **summary("start", starts),
    }


def render(report: dict[str, Any]) -> str:
    m, imports = report["machine"], report["imports"]
    hooks, keys, runs = report["webhooks"], report["idempotency"], report["schedule"]
    rows = report["args"]["rows"]
    lines = [
        "# Automation measurements (DESIGN.md §7)",
        "",
        f"- Run: {report['started']} → {report['finished']}; command: `{report['command']}`"
        " (under `flock /work/locks/bench.lock`)",
        f"- Machine: nproc {m['nproc']} (usable {m['usable_cpus']}), {m['cpu']},"
        f" {m['memory_gib']} GiB RAM, Python {m['python']}, {m['platform']}",
        f"- Server mode: {m['mongodb']}"
        + (" (embedded, started by the bench)" if m["mongodb_embedded"] else " (given)")
        + "; Redis started by the bench; S3: moto's server mode on loopback",
        f"- Product: the processes `make run` starts but the UI (API, workers {m['workers']},"
        f" webhook worker, recovery check: {m['sweeper']}); code at {m['git_commit']}"
        + (f" + {n} uncommitted files" if (n := m.get("git_changed_files")) else ""),
        "",
        f"## 1. The same {rows:,}-row CSV three ways (fresh database and processes each)",
        "",
        "| how | seconds | vs upload | POST s | planning s (fetch included) | batches s"
        " | report s | other CPU | counts |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for name in ("upload", "url", "s3"):
        r = imports[name]
        phases = [r["phases"].get(k) for k in ("upload", "planning", "batches", "report")]
        cells = [name, f"{r['seconds']:.1f}", f"{r['vs_upload']:.2f}×"]
        cells += ["n/a" if v is None else f"{v:.1f}" for v in phases]
        cells += [f"{r['cpu']['other_cores']:.2f}", json.dumps(r["counts"])]
        lines.append("| " + " | ".join(cells) + " |")
    retry = hooks["retry"]
    lines += [
        "",
        f"Counts equal: **{'yes' if imports['counts_equal'] else 'NO'}**.",
        "",
        f"## 2. Webhook delivery ({hooks['imports']} imports of {SMALL_ROWS} rows, one at a time)",
        "",
        "| from → to | median s | worst s |",
        "|---|--:|--:|",
        f"| job `finished_at` → receiver's arrival | {hooks['latency_median']:.2f}"
        f" | {hooks['latency_worst']:.2f} |",
        f"| of which `finished_at` → delivery made (the recovery check announces)"
        f" | {hooks['announced_median']:.2f} | {hooks['announced_worst']:.2f} |",
        f"| of which delivery made → arrival (webhook worker) | {hooks['sent_median']:.2f}"
        f" | {hooks['sent_worst']:.2f} |",
        "",
        f"A receiver answering 500 then 200: same `webhook-id` on both attempts:"
        f" **{'yes' if retry['same_id'] else 'NO'}** ({retry['ids'][0]}), both signatures"
        f" verified with `standardwebhooks`; second attempt {retry['gap']:.1f} s after the first.",
        "",
        f"## 3. Idempotency-Key ({keys['keys']} keys; POST /imports of a {SMALL_ROWS}-row file)",
        "",
        "| request | median ms | worst ms |",
        "|---|--:|--:|",
        f"| first POST | {keys['first_median'] * 1000:.0f} | {keys['first_worst'] * 1000:.0f} |",
        f"| replay (same key, same request) | {keys['replay_median'] * 1000:.0f}"
        f" | {keys['replay_worst'] * 1000:.0f} |",
        "",
        f"Replay / first (medians): {keys['replay_median'] / keys['first_median']:.2f}×."
        f" Imports made: {keys['imports_made']} for {keys['keys']} keys; every replay answered"
        " the first body with `Idempotent-Replayed: true`.",
        "",
        f'## 4. Schedule "run now" ({runs["runs"]} runs of a URL source of {SMALL_ROWS} rows)',
        "",
        "| from → to | median s | worst s |",
        "|---|--:|--:|",
        f"| POST /schedules/{{id}}/run → its 202 | {runs['answer_median']:.2f}"
        f" | {runs['answer_worst']:.2f} |",
        f"| POST /schedules/{{id}}/run → the import's `startedAt` | {runs['start_median']:.2f}"
        f" | {runs['start_worst']:.2f} |",
        f"| same file uploaded: POST /imports → `startedAt` (section 3's first POSTs)"
        f" | {keys['upload_start_median']:.2f} | {keys['upload_start_worst']:.2f} |",
        "",
        f"Run statuses: {', '.join(runs['statuses'])}.",
        "",
        "## How to read it",
        "",
        "- seconds = start of the POST → the job's `finished_at`; POST = the request's duration;"
        " planning = `planned_at` − `created_at` (a source's fetch happens here); batches ="
        " `batches_done_at` − `planned_at`; report = `finished_at` − `batches_done_at`.",
        "- `startedAt` is set when planning ends (the file fetched, checked and split into"
        " batches): the import is then in progress.",
        "- Webhook times are wall-clock on one machine: the receiver stamps a request when its"
        " body is read; the delivery's `created_at` is when the recovery check made it.",
        "- other CPU: cores used by processes this run did not start, during the import.",
    ]
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of section 1's file")
    parser.add_argument("--imports", type=int, default=10, help="imports timed for webhooks")
    parser.add_argument("--keys", type=int, default=20, help="Idempotency-Keys timed")
    parser.add_argument("--runs", type=int, default=3, help="schedule runs timed")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bcu-automation-"))
    children: list[Child] = []
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds")}
    report.update(command=COMMAND, args=vars(args) | {"results": str(args.results)})
    try:
        files = workdir / "files"
        path, small = data.all_new_file(files, args.rows), data.all_new_file(files, SMALL_ROWS)
        servers = start_servers(workdir, children)
        s3, s3_url = start_s3(workdir / "s3.log")
        children.append(s3)
        env = {
            "OUTBOUND_ALLOW_PRIVATE": "true",  # the URL source and the receiver are on loopback
            "S3_ENDPOINT_URL": s3_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
        credentials = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        store = s3_client(Settings(s3_endpoint_url=s3_url, **credentials))
        store.create_bucket(Bucket=BUCKET)
        store.put_object(Bucket=BUCKET, Key=KEY, Body=path.read_bytes())
        counters = ServerCounters(servers.mongo_url)
        report["machine"] = machine_info(counters, servers) | defaults()
        counters.close()
        with loopback_server() as web:
            for served in (path, small):
                web.files[f"/exports/{served.name}"] = Served(served.read_bytes())
            report["imports"] = import_three_ways(servers, workdir, env, path, web, args.rows)
            with AppStack(servers, workdir / "automation", make_run=True, env=env) as stack:
                print("[automation] webhooks…", flush=True)
                report["webhooks"] = webhook_latency(stack, web, small, args.imports)
                print("[automation] Idempotency-Key…", flush=True)
                report["idempotency"] = idempotent_posts(stack, small, args.keys)
                print("[automation] schedule run now…", flush=True)
                report["schedule"] = schedule_run_now(stack, web, small, args.runs)
        report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        print(save_results(report, args.results, "automation", render))
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        stop_all(children)
        if workdir.exists():
            print(f"[automation] logs kept in {workdir}")


def defaults() -> dict[str, str]:
    """`make run`'s workers and recovery check, as the settings have them."""
    settings = Settings()
    workers = f"{settings.worker_processes} process(es) x {settings.worker_threads} threads"
    sweeper = f"rounds every {settings.recovery_check_seconds:g} s, webhook events every"
    sweeper += f" {settings.webhook_announce_seconds:g} s"
    return {"workers": workers, "sweeper": sweeper}


if __name__ == "__main__":
    main()
