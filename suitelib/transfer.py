"""A two-way stream transfer between two sockets, with its content verified.

The server side runs in a thread on an already listening socket; the client
connects, both exchange a small greeting (so that the connection is fully
established, which for MPTCP is what lets the path manager open more
subflows), then the client sends ``size`` random bytes and the server answers
with ``size`` random bytes of its own. Each side hashes what it received.
Hooks run at two points: ``after_greeting`` (the connection is up, no bulk
data yet) and ``while_open`` (all data delivered, connection still open, so
``ss`` still lists it). Every blocking call has a timeout; the sockets and
the thread are finished before ``exchange`` returns, also on failure.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .mptcp import is_mptcp

GREETING = b"netharness-hello\n"
CHUNK = 1 << 16


@dataclass
class Result:
    size: int
    sent_up: str  # sha256 of what the client sent
    received_up: str | None  # sha256 of what the server received
    sent_down: str
    received_down: str | None
    client_mptcp: bool
    server_mptcp: bool | None
    seconds: float  # bulk phase only
    observed: Any = None  # what while_open returned

    @property
    def content_ok(self) -> bool:
        return self.sent_up == self.received_up and self.sent_down == self.received_down


def recv_exact(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        data = sock.recv(min(CHUNK, n - got))
        if not data:
            raise ConnectionError(f"peer closed after {got} of {n} bytes")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def recv_digest(sock: socket.socket, n: int) -> str:
    """Receive exactly ``n`` bytes and return their sha256."""
    digest, got = hashlib.sha256(), 0
    while got < n:
        data = sock.recv(min(CHUNK, n - got))
        if not data:
            raise ConnectionError(f"peer closed after {got} of {n} bytes")
        digest.update(data)
        got += len(data)
    return digest.hexdigest()


@dataclass
class _Server:
    listener: socket.socket
    size: int
    payload: bytes
    timeout: float
    conn: socket.socket | None = None
    received: str | None = None
    mptcp: bool | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        try:
            self.listener.settimeout(self.timeout)
            conn, _ = self.listener.accept()
            self.conn = conn
            conn.settimeout(self.timeout)
            conn.sendall(recv_exact(conn, len(GREETING)))
            self.received = recv_digest(conn, self.size)
            conn.sendall(self.payload)
            self.mptcp = is_mptcp(conn)
            # Stay open until the client has looked at the connection and closed.
            if conn.recv(1):
                raise AssertionError("client sent more than it should have")
        except BaseException as exc:  # reported by the caller's thread
            self.error = exc
        finally:
            if self.conn is not None:
                self.conn.close()
            self.done.set()


def exchange(
    listener: socket.socket,
    client: socket.socket,
    address: tuple[str, int],
    size: int,
    *,
    after_greeting: Callable[[], None] | None = None,
    while_open: Callable[[], Any] | None = None,
    timeout: float = 30.0,
) -> Result:
    """Run one transfer; closes ``client`` (the caller owns ``listener``).

    Raises whatever went wrong on either side; a content mismatch is not an
    error here but ``Result.content_ok`` is False.
    """
    up, down = os.urandom(size), os.urandom(size)
    server = _Server(listener=listener, size=size, payload=down, timeout=timeout)
    thread = threading.Thread(target=server.serve, name="netharness-exchange-server", daemon=True)
    thread.start()
    try:
        client.settimeout(timeout)
        client.connect(address)
        client.sendall(GREETING)
        if recv_exact(client, len(GREETING)) != GREETING:
            raise AssertionError("greeting came back altered")
        if after_greeting is not None:
            after_greeting()
        start = time.monotonic()
        client.sendall(up)
        received_down = recv_digest(client, size)
        seconds = time.monotonic() - start
        observed = while_open() if while_open is not None else None
        client_mptcp = is_mptcp(client)
        client.shutdown(socket.SHUT_WR)
        if not server.done.wait(timeout):
            raise AssertionError(f"server side did not finish within {timeout} s")
    except BaseException as exc:
        client.close()
        _unblock(server)
        thread.join(timeout)
        if server.error is not None:
            exc.add_note(f"server side failed too: {server.error!r}")
        raise
    client.close()
    thread.join(timeout)
    if server.error is not None:
        raise server.error
    return Result(
        size=size,
        sent_up=hashlib.sha256(up).hexdigest(),
        received_up=server.received,
        sent_down=hashlib.sha256(down).hexdigest(),
        received_down=received_down,
        client_mptcp=client_mptcp,
        server_mptcp=server.mptcp,
        seconds=seconds,
        observed=observed,
    )


def _unblock(server: _Server) -> None:
    """Wake a server thread blocked in accept() or recv() (both have timeouts anyway)."""
    for sock in (server.conn, server.listener):
        if sock is None:
            continue
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
