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
