"""The processes a benchmark run needs, all on 127.0.0.1: MongoDB and Redis (embedded unless
MONGODB_URL / REDIS_URL are set; the embedded SecantusDB in replica-set mode or standalone),
then per case the API (uvicorn) and the workers (dramatiq, as many processes and threads as
`make run` starts), or every process `make run` starts but the UI, on a freshly dropped
database; plus peak-RSS sampling and the server's command counters."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from pymongo import MongoClient

from config import Settings
from stack.processes import VENV_BIN, Child, free_port, start_mongo, start_redis, stop_all
from stack.run import app_children

API_KEY = "bench-admin-key"
DATABASE = "bcu_bench"
# What `make run` starts: the settings' defaults.
WORKER_PROCESSES: int = Settings.model_fields["worker_processes"].default
WORKER_THREADS: int = Settings.model_fields["worker_threads"].default
REPLICA_SET, STANDALONE, GIVEN = "replica set", "standalone", "given"
MIB = 1024 * 1024


@dataclass
class Servers:
    mongo_url: str
    redis_url: str
    embedded: bool
    mode: str = GIVEN  # of the embedded SecantusDB: REPLICA_SET or STANDALONE
    children: list[Child] = field(default_factory=list)


def start_servers(workdir: Path, children: list[Child], mode: str = STANDALONE) -> Servers:
    """The given MONGODB_URL / REDIS_URL, else embedded ones (appended to `children`), the
    SecantusDB in `mode`."""
    mongo_url, redis_url = os.environ.get("MONGODB_URL"), os.environ.get("REDIS_URL")
    embedded = not mongo_url
    if not mongo_url:
        storage = workdir / f"mongodb-{mode.replace(' ', '-')}"
        mongo, mongo_url = start_mongo(
            storage, workdir / f"{storage.name}.log", standalone=mode == STANDALONE
        )
        children.append(mongo)
    if not redis_url:
        redis, redis_url = start_redis(workdir / "redis", workdir / "redis.log")
        children.append(redis)
    return Servers(mongo_url, redis_url, embedded, mode if embedded else GIVEN)


class PeakRss(threading.Thread):
    """Samples every 0.5 s the RSS of the API process and of each process under the
    Dramatiq main process; keeps each one's peak (MiB)."""

    def __init__(self, api_pid: int, workers_pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.api_pid, self.workers_pid, self.interval = api_pid, workers_pid, interval
        self.api = 0.0
        self.workers: dict[int, float] = {}  # worker process pid -> peak
        self.workers_main = 0.0
        self._stop_event = threading.Event()

    @staticmethod
    def _rss(process: psutil.Process) -> float:
        try:
            return float(process.memory_info().rss) / MIB
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return 0.0

    def sample(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            self.api = max(self.api, self._rss(psutil.Process(self.api_pid)))
        with contextlib.suppress(psutil.NoSuchProcess):
            main = psutil.Process(self.workers_pid)
            self.workers_main = max(self.workers_main, self._rss(main))
            for child in main.children(recursive=True):
                peak = self.workers.get(child.pid, 0.0)
                self.workers[child.pid] = max(peak, self._rss(child))

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join(timeout=5)
        self.sample()
        return {
            "api_mib": round(self.api, 1),
            "worker_mib": [round(v, 1) for v in self.workers.values()],
            "workers_main_mib": round(self.workers_main, 1),
        }


class AppStack:
    """API and workers on `database` (dropped before they start); a context manager.

    With `make_run`, the processes `make run` starts but the UI (API, workers with its default
    processes and threads, webhook worker, recovery check), started as it starts them; `env`
    adds settings."""

    def __init__(
        self,
        servers: Servers,
        workdir: Path,
        database: str = DATABASE,
        make_run: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.servers, self.workdir, self.database = servers, workdir, database
        self.make_run, self.extra_env = make_run, env or {}
        self.port = free_port()
        self.children: list[Child] = []
        self.url = f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        workers = {"WORKER_PROCESSES": str(WORKER_PROCESSES), "WORKER_THREADS": str(WORKER_THREADS)}
        return {
            **os.environ,
            "MONGODB_URL": self.servers.mongo_url,
            "REDIS_URL": self.servers.redis_url,
            "MONGODB_DATABASE": self.database,
            "ADMIN_API_KEY": API_KEY,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.port),
            **({} if self.make_run else workers),
            **self.extra_env,
        }

    def processes(self, env: dict[str, str]) -> list[Child]:
        if self.make_run:
            settings = Settings(api_host="127.0.0.1", api_port=self.port)
            return [c for c in app_children(settings, env, self.workdir) if c.name != "ui"]
        python = str(VENV_BIN / "python")
        api_argv = [python, "-m", "uvicorn", "api.app:create_app", "--factory"]
        api_argv += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        worker_argv = [python, "-m", "dramatiq", "workers.actors"]
        worker_argv += ["--processes", str(WORKER_PROCESSES), "--threads", str(WORKER_THREADS)]
        return [
            Child("api", api_argv, env, self.workdir / "api.log"),
            Child("worker", worker_argv, env, self.workdir / "worker.log"),
        ]

    def __enter__(self) -> AppStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with MongoClient(self.servers.mongo_url) as client:
            client.drop_database(self.database)
        try:
            for child in self.processes(self.env()):
                self.children.append(child.start())
            by_name = {child.name: child for child in self.children}
            self.api, self.workers = by_name["api"], by_name["worker"]
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for child in self.children:
                if not child.alive:
                    raise RuntimeError(f"{child.name} exited; see {child.log_path}")
            try:
                answer = httpx.get(f"{self.url}/health", timeout=5)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.3)
        raise TimeoutError(f"API not healthy after {timeout:.0f}s: {last}")

    def rss_sampler(self) -> PeakRss:
        assert self.api.proc is not None and self.workers.proc is not None
        return PeakRss(self.api.proc.pid, self.workers.proc.pid)

    def stop(self) -> None:
        stop_all(self.children)
        self.children.clear()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        with MongoClient(self.servers.mongo_url) as client:  # the next measurement starts clean
            client.drop_database(self.database)


class CpuUse:
    """CPU the machine spent during a measurement: by this bench and everything it started
    (servers, API, workers) and by other processes (a noisy neighbour disturbs figures)."""

    @staticmethod
    def snapshot() -> tuple[float, float, float]:
        times = psutil.cpu_times()  # guest time is already in user; steal is not ours
        busy = sum(getattr(times, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq"))
        me = psutil.Process()
        mine = 0.0
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                cpu = process.cpu_times()
                mine += cpu.user + cpu.system + cpu.children_user + cpu.children_system
        return time.monotonic(), busy, mine

    @contextlib.contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        """Yields a dict filled on exit with cores used on average: bench, other."""
        found: dict[str, float] = {}
        start = self.snapshot()
        yield found
        end = self.snapshot()
        wall = max(end[0] - start[0], 1e-9)
        bench = (end[2] - start[2]) / wall
        found.update(bench_cores=bench, other_cores=max(0.0, (end[1] - start[1]) / wall - bench))


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most `limit` seconds) until other processes use under `threshold` cores over
    one second; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with CpuUse().measure() as cpu:
            time.sleep(1.0)
        if cpu["other_cores"] < threshold:
            break
    return time.monotonic() - started


class ServerCounters:
    """`serverStatus` counters, when the server answers it: `network.numRequests` (every
    command the server received) and `opcounters`."""

    def __init__(self, mongo_url: str) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
        self.supported = self.snapshot() is not None

    def snapshot(self) -> dict[str, int] | None:
        try:
            status = self.client.admin.command("serverStatus")
        except Exception:
            return None
        counters = {f"op_{k}": int(v) for k, v in status.get("opcounters", {}).items()}
        if "numRequests" in status.get("network", {}):
            counters["requests"] = int(status["network"]["numRequests"])
        return counters

    @staticmethod
    def delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int]:
        if before is None or after is None:
            return {}
        return {k: after[k] - before.get(k, 0) for k in after}

    @contextlib.contextmanager
    def measure(self) -> Iterator[dict[str, int]]:
        """Yields a dict filled, on exit, with the counters' increase (minus this call's own
        serverStatus)."""
        found: dict[str, int] = {}
        before = self.snapshot()
        yield found
        found.update(self.delta(before, self.snapshot()))
        for key in ("requests", "op_command"):
            if key in found:
                found[key] -= 1

    def close(self) -> None:
        self.client.close()
