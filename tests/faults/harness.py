"""The fault suite's stack: its own MongoDB-wire server, Redis, API, workers and recovery
check as real processes (the ones `make run` starts), which the scenarios kill, stop and
restart; the standard import (half new rows, half duplicates, a few invalid); what an import
leaves behind, to compare with a clean run; and the recovery time of a fault."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
from openpyxl import load_workbook
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from config import Settings
from stack.processes import (
    Child,
    free_port,
    mongo_child,
    mongo_url_for,
    redis_child,
    redis_url_for,
    start_ready,
    stop_all,
)
from stack.run import app_children
from tests.helpers import FINISHED, csv_bytes, seed_customers_sync, summary_counts
from workers.queues import IMPORT_QUEUES

DATABASE = "bcu_faults"
ADMIN_KEY = "faults-admin-key"
# The standard import's rows: 20,000 (20 batches), the size the issue asks for; FAULT_ROWS
# for another (a multiple of 1,000). Every fault lands mid-job, between batches and inside
# them.
ROWS = int(os.environ.get("FAULT_ROWS", "20000"))
COLUMNS = ["firstName", "email", "phoneNumber", "city", "labels"]
# Collections an import writes; the schema and the API keys stay between scenarios.
IMPORT_COLLECTIONS = [
    "customers",
    "identifier_claims",
    "claim_writers",
    "import_jobs",
    "import_batches",
    "uploads.files",
    "uploads.chunks",
    "reports.files",
    "reports.chunks",
]


def phone(n: int) -> str:
    return f"+336{n:08d}"  # French mobiles: valid under the strict policy


def existing_customers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "firstName": f"Old{i}",
            "email": [f"old{i}@example.com"],
            "phoneNumber": [phone(10_000_000 + i)],
            "city": "Oldtown",
            "labels": ["old"],
        }
        for i in range(count)
    ]


def import_rows(count: int, start: int = 0) -> list[list[str]]:
    """Even rows are duplicates of existing customers (by email) with a new phone; odd rows
    are new customers; one row in a thousand has an invalid email."""
    rows = []
    for k in range(start, start + count):
        if k % 1000 == 999:
            rows.append([f"Bad{k}", f"not-an-email-{k}", phone(20_000_000 + k), "", ""])
        elif k % 2 == 0:
            email = f"old{k // 2}@example.com"
            rows.append([f"Dup{k}", email, phone(20_000_000 + k), "Paris", "vip"])
        else:
            rows.append([f"New{k}", f"new{k}@example.com", phone(20_000_000 + k), "Rome", "new"])
    return rows


STANDARD_FILE = csv_bytes(COLUMNS, import_rows(ROWS))


def config(action: str = "append") -> dict[str, Any]:
    return {"deduplicationKeys": ["email"], "action": action}


@dataclass
class Result:
    """What an import left behind: compared between a clean run and a faulty one."""

    status: str
    counts: dict[str, int]
    customers: list[dict[str, Any]]
    summary: dict[str, Any]
    details: list[tuple[Any, ...]]
    seconds: float = field(default=0.0, compare=False)


def customers_of(database: Any) -> list[dict[str, Any]]:
    docs = database["customers"].find({}, {"attributes": 1, "_id": 0})
    return sorted((d["attributes"] for d in docs), key=lambda a: json.dumps(a, sort_keys=True))


def duplicated_identifiers(database: Any) -> list[str]:
    seen: dict[str, int] = {}
    for doc in database["customers"].find({}, {"attributes": 1}):
        for key in ("email", "phoneNumber"):
            for value in doc["attributes"].get(key, []):
                seen[f"{key}:{value}"] = seen.get(f"{key}:{value}", 0) + 1
    return [value for value, n in seen.items() if n > 1]


TIMES = {"Started", "Finished", "Duration (s)"}  # of the report's summary: differ run to run


def report_of(client: httpx.Client, job_id: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    response = client.get(f"/imports/{job_id}/report")
    assert response.status_code == 200, response.text
    details = load_workbook(io.BytesIO(response.content), read_only=True)["Details"]
    summary = {k: v for k, v in summary_counts(response.content).items() if k not in TIMES}
    return summary, list(details.iter_rows(values_only=True))


@dataclass
class FaultStack:
    workdir: Path
    mongo_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            MONGODB_URL=mongo_url_for(self.mongo_port),
            REDIS_URL=redis_url_for(self.redis_port),
            MONGODB_DATABASE=DATABASE,
            ADMIN_API_KEY=ADMIN_KEY,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- the processes ----------------------------------------------------------------------

    def start_mongo(self) -> None:
        child = mongo_child(self.mongo_port, self.workdir / "mongodb", self._log("mongodb"))
        self.children["mongodb"] = start_ready(child, self.mongo_port)

    def start_redis(self) -> None:
        child = redis_child(self.redis_port, self.workdir / "redis", self._log("redis"))
        self.children["redis"] = start_ready(child, self.redis_port)

    def start_app(self, name: str) -> None:
        """Start the api, worker or sweeper as `make run` does (2 worker processes x 2
        threads, as the other tests' workers), with the default lease and check interval."""
        settings = Settings(
            api_port=self.api_port,
            worker_processes=2,
            worker_threads=2,
            # Requests in flight are dropped at once on SIGTERM: a stop lands mid-upload.
            api_shutdown_seconds=0,
            mongodb_url=self.env["MONGODB_URL"],
            redis_url=self.env["REDIS_URL"],
        )
        [child] = [c for c in app_children(settings, self.env, self.workdir) if c.name == name]
        self.children[name] = child.start()
        if name == "api":
            self.wait_healthy()

    def start(self) -> FaultStack:
        self.start_mongo()
        self.start_redis()
        for name in ("api", "worker", "sweeper"):
            self.start_app(name)
        with self.client() as client:
            assert client.get("/imports").status_code == 200
        return self

    def stop(self, name: str) -> None:
        stop_all([self.children[name]])

    def restart(self, name: str) -> None:
        self.stop(name)
        if name == "mongodb":
            self.start_mongo()
        elif name == "redis":
            self.start_redis()
        else:
            self.start_app(name)

    def stop_everything(self) -> None:
        apps = [c for n, c in self.children.items() if n not in ("mongodb", "redis")]
        stop_all(apps)
        stop_all([c for c in self.children.values() if c not in apps])

    def worker_processes(self) -> list[psutil.Process]:
        proc = self.children["worker"].proc
        assert proc is not None
        return psutil.Process(proc.pid).children()

    def kill_worker_process(self) -> None:
        """SIGKILL one Dramatiq worker process; its main process then ends the others and
        exits, and the worker is started again, as `make run` or compose would."""
        os.kill(self.worker_processes()[0].pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.children["worker"].proc.wait(timeout=30)  # type: ignore[union-attr]
        self.restart("worker")

    def kill_workers(self) -> None:
        """SIGKILL the worker's whole process group (a lost machine), then start it again."""
        proc = self.children["worker"].proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.restart("worker")

    @contextlib.contextmanager
    def workers_frozen(self) -> Iterator[None]:
        """SIGSTOP the worker processes for the block (kept short: leases run meanwhile)."""
        processes = [psutil.Process(self.children["worker"].proc.pid), *self.worker_processes()]  # type: ignore[union-attr]
        for process in processes:
            process.suspend()
        try:
            yield
        finally:
            for process in processes:
                process.resume()

    # --- clients and data -------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, timeout=120, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )

    @contextlib.contextmanager
    def database(self) -> Iterator[Any]:
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.env["MONGODB_URL"], tz_aware=True, serverSelectionTimeoutMS=30_000
        )
        try:
            yield client[DATABASE]
        finally:
            client.close()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=5).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the API did not become healthy")
            time.sleep(0.2)

    def reset(self, existing: int = ROWS // 2) -> None:
        """An empty customer base with `existing` customers, and no imports."""
        with self.database() as database:
            for name in IMPORT_COLLECTIONS:
                database.drop_collection(name)
            seed_customers_sync(database, existing_customers(existing))

    def upload(self, content: bytes, chosen: dict[str, Any], name: str = "faults.csv") -> str:
        with self.client() as client:
            response = client.post(
                "/imports",
                files={"file": (name, content, "text/csv")},
                data={"config": json.dumps(chosen)},
            )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        """The job document as stored (read from MongoDB: the API may be the one down)."""
        from bson import ObjectId

        with self.database() as database:
            found = database["import_jobs"].find_one({"_id": ObjectId(job_id)})
        assert found is not None
        return dict(found)

    def wait_finished(self, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"import {job_id} did not finish in {timeout}s: {self.stuck(job)}"
                )
            time.sleep(0.2)

    def stuck(self, job: dict[str, Any]) -> str:
        """What a job that makes no progress waits for, in MongoDB and in the broker."""
        job_id = str(job["_id"])
        with self.database() as database:
            pending = list(
                database["import_batches"].find(
                    {"job_id": job_id, "status": "pending"}, {"attempts": 1, "lease_until": 1}
                )
            )
        status = {k: job.get(k) for k in ("status", "processed_rows", "finalizing_until")}
        ids = [str(b["_id"]) for b in pending] or [job_id]
        logs = {
            name: self._log(name).read_text(errors="replace").splitlines()[-30:]
            for name in ("worker", "sweeper")
            if self._log(name).exists()
        }
        return (
            f"{status}, pending {pending}; in Redis: {self.broker_state(ids)}; "
            f"logs' last lines: {json.dumps(logs, indent=1)}"
        )

    def broker_state(self, step_ids: list[str]) -> dict[str, Any]:
        """Where the broker keeps the messages of these steps (a batch or job id each): for a
        recovery that did not happen, what the recovery check saw."""
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            now_ms = time.time() * 1000
            beats = {
                w.decode(): round((now_ms - at) / 1000, 1)
                for w, at in client.zrange("dramatiq:__heartbeats__", 0, -1, withscores=True)
            }
            queues = [f"{queue}{delayed}" for queue in IMPORT_QUEUES for delayed in ("", ".DQ")]
            lists = {q: {m.decode() for m in client.lrange(f"dramatiq:{q}", 0, -1)} for q in queues}
            acks = {
                k.decode(): {m.decode() for m in client.smembers(k)}
                for k in client.keys("dramatiq:__acks__.*")
            }
            found: dict[str, Any] = {}
            for queue in queues:
                for redis_id, body in client.hgetall(f"dramatiq:{queue}.msgs").items():
                    message = json.loads(body)
                    step = str((message.get("args") or [None])[0])
                    if step not in step_ids:
                        continue
                    rid = redis_id.decode()
                    where = [q for q, members in lists.items() if rid in members]
                    where += [k for k, members in acks.items() if rid in members]
                    found.setdefault(step, []).append(
                        {"queue": queue, "actor": message["actor_name"], "in": where}
                    )
            return {"messages": found, "heartbeat_ages_s": beats}
        finally:
            client.close()

    def wait_processed(self, job_id: str, rows: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["processed_rows"] < rows:
            assert job["status"] not in FINISHED, job
            if time.monotonic() > deadline:
                raise AssertionError(f"import {job_id} not at {rows} rows in {timeout}s: {job}")
            time.sleep(0.05)

    def result(self, job_id: str, started: float | None = None) -> Result:
        job = self.wait_finished(job_id)
        seconds = time.monotonic() - started if started is not None else 0.0
        with self.client() as client:
            api_job = client.get(f"/imports/{job_id}").json()
            summary, details = report_of(client, job_id)
        with self.database() as database:
            customers = customers_of(database)
        return Result(job["status"], api_job["counts"], customers, summary, details, seconds)

    def run(self, content: bytes, chosen: dict[str, Any]) -> Result:
        started = time.monotonic()
        return self.result(self.upload(content, chosen), started)


class Recovery:
    """The recovery time of a fault: from the moment the fault is over (the process killed
    and started again, the server back) until the job's processed rows move again, and
    until the job ends. Printed, never asserted."""

    def __init__(self, stack: FaultStack, job_id: str, fault: str) -> None:
        self.stack, self.job_id, self.fault = stack, job_id, fault
        self.moved: list[float] = []

    def _processed(self) -> tuple[int, str] | None:
        try:
            job = self.stack.job(self.job_id)
        except PyMongoError:  # the database is the part that is down
            return None
        return int(job["processed_rows"]), str(job["status"])

    def after(self, inject: Callable[[], None]) -> float:
        """Run `inject` (the fault, and the restart that ends it); the seconds until the
        processed rows moved past what they were once it was over."""
        inject()
        over = time.monotonic()
        before = None
        while before is None:
            before = self._processed()
        while True:
            now = self._processed()
            if now is not None and (now[0] > before[0] or now[1] in FINISHED):
                self.moved.append(time.monotonic() - over)
                return self.moved[-1]
            if time.monotonic() - over > 180:
                raise AssertionError(
                    f"{self.fault}: no progress 180 s after the fault: "
                    f"{self.stack.stuck(self.stack.job(self.job_id))}"
                )
            time.sleep(0.05)

    def report(self, result: Result, clean: Result) -> None:
        moved = ", ".join(f"{s:.1f} s" for s in self.moved)
        print(
            f"\n[recovery] {self.fault}: progress moved again after {moved}; the job took "
            f"{result.seconds:.1f} s against {clean.seconds:.1f} s for a clean run",
            flush=True,
        )


class Redeliverer(threading.Thread):
    """Sends a second copy of every message of `actor` that reaches the import queues,
    through the real broker, as a broker that redelivers would: both copies then wait in
    the queue together and are taken by different workers at once."""

    def __init__(self, redis_url: str, actor: str) -> None:
        super().__init__(daemon=True)
        from dramatiq.brokers.redis import RedisBroker

        self.broker = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
        self.actor = actor
        self.copied: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        from dramatiq import Message

        seen: set[bytes] = set()
        keys = [f"{self.broker.namespace}:{queue}.msgs" for queue in IMPORT_QUEUES]
        while not self.stopping.is_set():
            messages = [m for key in keys for m in self.broker.client.hgetall(key).items()]
            for redis_id, body in messages:
                if redis_id in seen:
                    continue
                seen.add(redis_id)
                message = Message.decode(body)
                if message.actor_name == self.actor:
                    copy = self.broker.enqueue(message)
                    seen.add(copy.options["redis_message_id"].encode())
                    self.copied.append(str(message.args[0]))
            time.sleep(0.005)

    def __enter__(self) -> Redeliverer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join()
        self.broker.close()
