"""A server that closes idle connections (SecantusDB does after 300 s) must not turn the next
request after a quiet spell into a 500. Here a loopback TCP proxy in front of the test server
closes a connection after IDLE_SECONDS without traffic, so the case takes a second, not five
minutes; the client is built exactly as the API and workers build theirs.
Nor must a process whose event loop stood still (a laptop asleep, a paused container) lose
the first commands after it: there, heartbeats and connection timeouts a few hundred
milliseconds long make a three-second stand-still do what half a minute does by default."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient
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


# Short enough that a stand-still of STAND_STILL_SECONDS outlasts a monitor's awaited reply
# and the pool's idle limit (as a night asleep does), so the first command after it opens a
# new connection.
QUICK_MONITOR = {"heartbeatFrequencyMS": 500, "connectTimeoutMS": 500}
STAND_STILL_SECONDS = 3.0
MAX_IDLE_SECONDS = 1.0


def _with_options(url: str, options: dict[str, int]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(options)) if q)
    return urlunsplit(parts._replace(path=parts.path or "/", query=query))


async def _pings_after_standing_still(client: AsyncMongoClient) -> None:  # type: ignore[type-arg]
    try:
        await client.admin.command("ping")
        await asyncio.sleep(0.2)  # into a heartbeat: a monitor that streams awaits its reply
        time.sleep(STAND_STILL_SECONDS)  # noqa: ASYNC251 (the loop stands still on purpose)
        for _ in range(5):
            await client.admin.command("ping")
    finally:
        await client.close()


async def test_commands_after_the_loop_stood_still_all_succeed() -> None:
    url = _with_options(os.environ["MONGODB_URL"], QUICK_MONITOR)
    await _pings_after_standing_still(
        db.new_client(Settings(mongodb_url=url, mongodb_max_idle_seconds=MAX_IDLE_SECONDS))
    )


async def test_a_streaming_monitor_cancels_the_first_command_after_a_stand_still() -> None:
    """What the product's client avoids: the driver's default monitor, whose awaited reply
    timed out while the loop stood still, cancels the command in flight when it returns.
    It depends on where in its heartbeat the monitor stands, so it may take a few tries."""
    url = _with_options(os.environ["MONGODB_URL"], QUICK_MONITOR)
    for _ in range(3):
        client: AsyncMongoClient = AsyncMongoClient(  # type: ignore[type-arg]
            url, serverMonitoringMode="stream", maxIdleTimeMS=int(MAX_IDLE_SECONDS * 1000)
        )
        try:
            await _pings_after_standing_still(client)
        except AutoReconnect:
            return
    pytest.fail("three stand-stills and no command was cancelled")
