"""Servers started through stack.processes die with the process that started them, even when
it is SIGKILLed (a test session or `make run` killed hard): a rerun never meets an old one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.e2e

STARTER = textwrap.dedent(
    """
    import sys, tempfile, time
    from pathlib import Path
    from stack.processes import start_redis
    work = Path(tempfile.mkdtemp())
    redis, url = start_redis(work, work / "redis.log")
    print(redis.proc.pid, flush=True)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_server_dies_when_its_starter_is_killed() -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER], stdout=subprocess.PIPE, cwd=os.getcwd()
    )
    try:
        assert starter.stdout is not None
        server_pid = int(starter.stdout.readline())
        assert _alive(server_pid)

        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 10
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)

        assert not _alive(server_pid), "the server outlived the process that started it"
    finally:
        starter.kill()
        starter.wait()


# Tells, by a file next to it, that the session is running its tests (its servers are up).
WAITING_TEST = (
    "import pathlib, time\n\n\ndef test_waits():\n"
    "    (pathlib.Path(__file__).parent / 'started').touch()\n    time.sleep(120)\n"
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_the_test_servers_die_with_pytest(tmp_path, sig) -> None:
    """A pytest session with this harness (tests/conftest.py, as a plugin) starts its
    MongoDB-wire server and Redis; however pytest ends, they end too."""
    (tmp_path / "test_waiting.py").write_text(WAITING_TEST)
    session = subprocess.Popen(
        # Its own --basetemp: otherwise a session stopped by SIGINT first deletes old
        # sessions' temporary folders at exit (those of the fault suite are large), and took
        # over a minute doing so in the full suite.
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-q",
            f"--basetemp={tmp_path / 'basetemp'}",
            str(tmp_path),
        ],
        cwd=os.getcwd(),
        # A session of its own: not on this one's servers, nor an xdist worker of it.
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("MONGODB_URL", "REDIS_URL") and not k.startswith("PYTEST_XDIST")
        },
        stdout=(tmp_path / "session.log").open("wb"),
        stderr=subprocess.STDOUT,
        # As from a terminal, whoever started this session: a session started in the
        # background by a shell without job control (`cmd &`) ignores SIGINT, its children
        # inherit that, and a Python that starts with SIGINT ignored never raises
        # KeyboardInterrupt (the test then slept out its 120 s: nothing of the harness).
        preexec_fn=_sigint_by_default,
    )
    try:
        deadline = time.monotonic() + 60
        # Signalled while it runs a test, as a session is killed mid-run (not while it is
        # still starting its servers).
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline and session.poll() is None, "never started"
            time.sleep(0.2)
        servers = _children(session.pid)
        assert len(servers) >= 2, servers

        session.send_signal(sig)
        try:
            session.wait(timeout=120)
        except subprocess.TimeoutExpired:
            output = (tmp_path / "session.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"pytest still running 120 s after {sig!r}:\n{output}") from None
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
            time.sleep(0.2)

        assert [pid for pid in servers if _alive(pid)] == [], f"servers outlived pytest ({sig})"
    finally:
        session.kill()
        session.wait()


def _sigint_by_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]
