"""`make run`: the whole stack in the foreground, on embedded servers unless MONGODB_URL /
REDIS_URL point elsewhere. Ctrl-C (SIGINT) or SIGTERM stops every process it started.

A process that dies is started again (Dramatiq's main process exits when one of its worker
processes is killed, so something has to bring workers back)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from config import Settings
from stack.processes import (
    VENV_BIN,
    Child,
    start_mongo,
    start_redis,
    stop_all,
    wait_for_port,
)

RESTART_DELAY = 1.0


def app_children(settings: Settings, env: dict[str, str], logs: Path | None) -> list[Child]:
    """The project's own processes: API, worker, webhook worker, sweeper, UI."""
    python = str(VENV_BIN / "python")

    def log(name: str) -> Path | None:
        return logs / f"{name}.log" if logs else None

    return [
        Child(
            "api",
            [
                python,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                settings.api_host,
                "--port",
                str(settings.api_port),
                "--timeout-graceful-shutdown",
                str(settings.api_shutdown_seconds),
            ],
            env,
            log("api"),
        ),
        Child(
            "worker",
            [
                python,
                "-m",
                "dramatiq",
                "workers.actors",
                "--processes",
                str(settings.worker_processes),
                "--threads",
                str(settings.worker_threads),
            ],
            env,
            log("worker"),
        ),
        Child(
            "webhooks",
            [
                python,
                "-m",
                "dramatiq",
                "workers.webhooks",
                "--processes",
                "1",
                "--threads",
                str(settings.webhook_worker_threads),
            ],
            env,
            log("webhooks"),
        ),
        Child("sweeper", [python, "-m", "wiring.sweeper"], env, log("sweeper")),
        Child(
            "ui",
            [
                python,
                "-m",
                "streamlit",
                "run",
                "ui/server.py",
                "--server.port",
                str(settings.ui_port),
                "--server.headless",
                "true",
                "--server.address",
                settings.ui_host,
                "--server.maxUploadSize",
                str(settings.max_upload_bytes // (1024 * 1024)),
                "--browser.gatherUsageStats",
                "false",
            ],
            env,
            log("ui"),
        ),
    ]


def start_embedded(settings: Settings, env: dict[str, str], logs: Path | None) -> list[Child]:
    started = []
    data = settings.data_dir.resolve()
    if not settings.mongodb_url:
        mongo, env["MONGODB_URL"] = start_mongo(
            data / "mongodb", logs / "mongodb.log" if logs else None, settings.embedded_mongodb_port
        )
        started.append(mongo)
    if not settings.redis_url:
        redis, env["REDIS_URL"] = start_redis(
            data / "redis", logs / "redis.log" if logs else None, settings.embedded_redis_port
        )
        started.append(redis)
    return started


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = False

    def handle_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def stop_all(self) -> None:
        # Our processes first, so they do not log connection errors while the servers stop.
        apps = [c for c in self.children if c.name not in ("mongodb", "redis")]
        stop_all(apps)
        stop_all([c for c in self.children if c not in apps])

    def watch(self) -> None:
        while not self.stopping:
            for child in self.children:
                if not child.alive and not self.stopping:
                    code = child.proc.returncode if child.proc else None
                    print(f"[run] {child.name} exited ({code}); starting it again", flush=True)
                    time.sleep(RESTART_DELAY)
                    child.start()
            time.sleep(0.5)


def main() -> int:
    settings = Settings()
    supervisor = Supervisor()
    signal.signal(signal.SIGINT, supervisor.handle_signal)
    signal.signal(signal.SIGTERM, supervisor.handle_signal)
    env = dict(os.environ)
    logs = settings.data_dir.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        supervisor.children += start_embedded(settings, env, logs)
        settings = Settings(
            **{"mongodb_url": env.get("MONGODB_URL"), "redis_url": env.get("REDIS_URL")}
        )
        apps = app_children(settings, env, None)
        for child in apps:
            child.start()
        supervisor.children += apps
        by_name = {child.name: child for child in apps}
        wait_for_port(settings.api_port, proc=by_name["api"].proc)
        wait_for_port(settings.ui_port, proc=by_name["ui"].proc)
        key_hint = "set" if os.environ.get("ADMIN_API_KEY") else "default: dev-admin-key"
        print(
            "\nBulk Customer Upload is running:\n"
            f"  UI:   http://localhost:{settings.ui_port}\n"
            f"  API:  http://localhost:{settings.api_port}  (OpenAPI at /docs)\n"
            f"  MongoDB: {env['MONGODB_URL']}\n  Redis:   {env['REDIS_URL']}\n"
            f"  Sign in with the API key in ADMIN_API_KEY ({key_hint})\n"
            "Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        supervisor.watch()
    finally:
        print("[run] stopping…", flush=True)
        supervisor.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
