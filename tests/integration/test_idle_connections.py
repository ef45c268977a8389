"""A server that closes idle connections (SecantusDB does after 300 s) must not turn the next
request after a quiet spell into a 500. Here a loopback TCP proxy in front of the test server
closes a connection after IDLE_SECONDS without traffic, so the case takes a second, not five
minutes; the client is built exactly as the API and workers build theirs."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from pymongo.errors import AutoReconnect

from config import Settings
from store import db

IDLE_SECONDS = 0.5


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy until `source` is quiet for IDLE_SECONDS or closes, then close both ends."""
    source.settimeout(IDLE_SECONDS)
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:  # the timeout, or the other direction closed first
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


@contextlib.contextmanager
def _closing_idle_proxy() -> Iterator[str]:
    """A proxy on its own threads, so it closes connections while the test's loop sleeps."""
    target = urlsplit(os.environ["MONGODB_URL"])
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                client, _ = listener.accept()
                server = socket.create_connection((target.hostname, target.port))
                for pair in ((client, server), (server, client)):
                    threading.Thread(target=_pipe, args=pair, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"mongodb://127.0.0.1:{listener.getsockname()[1]}/?directConnection=true"
    finally:
        listener.close()


async def _ping_after_a_quiet_spell(url: str, max_idle_seconds: float) -> None:
    client = db.new_client(Settings(mongodb_url=url, mongodb_max_idle_seconds=max_idle_seconds))
    try:
        await client.admin.command("ping")
        # The loop does not run meanwhile (as between two tests, or in a busy process), so
        # the driver cannot have seen the close when it takes the connection again.
        time.sleep(IDLE_SECONDS * 3)  # noqa: ASYNC251 (blocking on purpose)
        await client.admin.command("ping")
    finally:
        await client.close()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    with _closing_idle_proxy() as url:
        await _ping_after_a_quiet_spell(url, max_idle_seconds=IDLE_SECONDS / 2)


async def test_without_an_idle_limit_the_closed_connection_fails_the_next_command() -> None:
    """The proxy really closes idle connections: a pool that keeps them gets the error the
    first test guards against."""
    with _closing_idle_proxy() as url, pytest.raises(AutoReconnect):
        await _ping_after_a_quiet_spell(url, max_idle_seconds=3600)
