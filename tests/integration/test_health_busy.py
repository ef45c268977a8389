"""`/health` while the database server is busy with other clients' work (the embedded server
answers one command at a time: a customer scan holds a ping up for seconds): the check
answers from the driver's view of the server instead of waiting for its ping; a server that
cannot be reached still fails. A loopback proxy in front of the test server holds the
commands sent to it while `held` is set, as a busy server would."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from config import Settings
from store import db, health


class HoldingProxy:
    def __init__(self) -> None:
        self.released = threading.Event()
        self.released.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        port = self.listener.getsockname()[1]
        return f"mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=2000"

    def close(self) -> None:
        self.released.set()
        self.listener.close()
        for end in self.connections:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _accept(self) -> None:
        target = urlsplit(os.environ["MONGODB_URL"])
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection((target.hostname, target.port))
                self.connections += [client, server]
                threading.Thread(
                    target=self._pipe, args=(client, server, True), daemon=True
                ).start()
                threading.Thread(
                    target=self._pipe, args=(server, client, False), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, holds: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if holds:
                    self.released.wait()
                target.sendall(data)


@pytest.fixture
async def proxied() -> AsyncIterator[HoldingProxy]:
    """store.db on a client that goes through the proxy (its state put back after)."""
    proxy = HoldingProxy()
    saved = db._client, db._database
    client = db.new_client(Settings(mongodb_url=proxy.url))
    db._client, db._database = client, client["bcu_health"]
    try:
        await client.admin.command("ping")  # the driver has seen the server
        yield proxy
    finally:
        db._client, db._database = saved
        proxy.close()
        await client.close()


async def test_a_busy_server_is_reported_up_without_waiting_for_its_ping(proxied) -> None:
    proxied.released.clear()  # the server takes no command for now
    try:
        assert (await health.check())["mongo"] == "ok"
        # It answered while its ping was still held up; a second check shares that ping.
        (ping,) = health._pings.values()
        assert not ping.done()
        assert (await health.check())["mongo"] == "ok"
        assert list(health._pings.values()) == [ping]
    finally:
        proxied.released.set()
    await ping
    assert health._pings == {}


async def test_a_server_that_cannot_be_reached_is_reported_down(proxied) -> None:
    proxied.close()
    assert (await health.check())["mongo"].startswith("error: ")
