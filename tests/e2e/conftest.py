"""The stack as `make run` starts it (`python -m stack.run`), on private ports and data."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from stack.processes import VENV_BIN, free_port, mongo_url_for, wait_for_port
from tests.e2e.browser import browser  # noqa: F401  # the fixture, for every browser test

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningStack:
    proc: subprocess.Popen[bytes]
    api_url: str
    ui_url: str
    admin_key: str
    data_dir: Path
    log_path: Path
    mongo_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, timeout=60, headers={"Authorization": f"Bearer {self.admin_key}"}
        )

    @contextmanager
    def workers_paused(self) -> Iterator[None]:
        """SIGSTOP the Dramatiq processes (main and worker processes) and SIGCONT them after:
        an import holds still wherever it was, for a browser to see it mid-way."""
        dramatiq = [
            p
            for p in psutil.Process(self.proc.pid).children(recursive=True)
            if "dramatiq" in p.cmdline()
        ]
        assert dramatiq, "the stack runs no Dramatiq process"
        for process in dramatiq:
            process.suspend()
        try:
            yield
        finally:
            for process in dramatiq:
                process.resume()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise
        return self.proc.returncode


def start_stack(
    data_dir: Path, embedded: bool = True, extra_env: dict[str, str] | None = None
) -> RunningStack:
    """`python -m stack.run` with free ports. embedded=True also starts its own MongoDB and
    Redis (as `make run` on a fresh machine); otherwise it uses the test harness's."""
    api_port, ui_port, mongo_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        API_PORT=str(api_port),
        UI_PORT=str(ui_port),
        DATA_DIR=str(data_dir),
        ADMIN_API_KEY="e2e-admin-key",
        EMBEDDED_MONGODB_PORT=str(mongo_port),
        EMBEDDED_REDIS_PORT=str(free_port()),
        MONGODB_DATABASE="bcu_e2e",
        **(extra_env or {}),
    )
    if embedded:
        env.pop("MONGODB_URL", None)
        env.pop("REDIS_URL", None)
    log_path = data_dir / "stack.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "stack.run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = RunningStack(
        proc,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        "e2e-admin-key",
        data_dir,
        log_path,
        mongo_url_for(mongo_port) if embedded else os.environ["MONGODB_URL"],
    )
    try:
        wait_for_port(api_port, timeout=90, proc=proc)
        wait_for_port(ui_port, timeout=90, proc=proc)
        deadline = time.monotonic() + 60
        while httpx.get(f"{stack.api_url}/health", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the stack did not become healthy")
            time.sleep(0.5)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()
