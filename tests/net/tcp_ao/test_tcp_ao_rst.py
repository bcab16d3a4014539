"""Resets on TCP-AO connections: the kernel signs the RSTs it sends, and
drops the RSTs that are not signed.

Topology tcp-ao-pair. Reference: ``rst.c`` (active RST from closing a
listener with queued connections; RST from close() with SO_LINGER 0).
The forged-RST tests go further than the selftest: node a injects a plain
RST for b's connection through a raw socket, with b's exact rcv_nxt as
sequence number so that RFC 5961 would accept it; on a plain TCP
connection (the control) it resets b, on a TCP-AO one b must drop it.
"""

from __future__ import annotations

import select
import socket

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [pytest.mark.topology("tcp-ao-pair"), pytest.mark.requires(tools=["nstat"])]

KEY = b"key that signs the resets"


def ao_connection(pair, sockets, *, signed: bool = True, backlog: int = 8):
    f = pair.family
    setup = (lambda s: ao.add_key(s, pair.a_addr, KEY, 100, 100)) if signed else None
    listener = sockets.listener(pair.b, f, setup=setup, backlog=backlog)
    client = sockets.tcp(pair.a, f)
    if signed:
        ao.add_key(client, pair.b_addr, KEY, 100, 100)
    return listener, client


def expect_reset(sock: socket.socket) -> None:
    with pytest.raises(ConnectionResetError):
        sock.settimeout(util.TIMEOUT)
        data = sock.recv(1)
        raise AssertionError(f"recv() returned {data!r} instead of failing with ECONNRESET")


@pytest.mark.parametrize("aborting", ["client", "server"])
def test_linger_zero_close_sends_signed_rst(pair, sockets, aborting):
    f = pair.family
    mib = {"a": MibDelta(pair.a), "b": MibDelta(pair.b)}
    listener, client = ao_connection(pair, sockets)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 4096)
    closer, victim, victim_node = (client, server, "b") if aborting == "client" else (server, client, "a")
    good = mib[victim_node].now()["TcpExtTCPAOGood"]
    util.abort(closer)
    expect_reset(victim)
    delta = mib[victim_node].now()
    assert delta["TcpExtTCPAOGood"] > good, "the RST was not verified as a TCP-AO segment"
    assert delta["TcpExtTCPAORequired"] == delta["TcpExtTCPAOBad"] == delta["TcpExtTCPAOKeyNotFound"] == 0, delta


def test_closing_listener_resets_queued_connection(pair, sockets):
    """rst.c test_server_active_rst(): a connection still in the accept
    queue is reset when its listener closes, with a signed RST."""
    f = pair.family
    mib_a = MibDelta(pair.a)
    listener, client = ao_connection(pair, sockets, backlog=0)
    util.connect(client, f, pair.b_addr, util.port_of(listener))
    readable, _, _ = select.select([listener], [], [], util.TIMEOUT)
    assert readable, "the connection never reached the accept queue"
    listener.close()
    expect_reset(client)
    delta = mib_a.now()
    assert delta["TcpExtTCPAOGood"] > 0 and delta["TcpExtTCPAORequired"] == 0 and delta["TcpExtTCPAOBad"] == 0, delta


def forge_rst(pair, sockets, client: socket.socket, server: socket.socket) -> None:
    """From node a, a bare RST for ``server``'s connection, in window exactly."""
    f = pair.family
    seq = util.rcv_nxt(server)
    segment = util.tcp_segment(pair.a_addr, pair.b_addr, util.port_of(client), util.port_of(server), seq, flags="R")
    raw = sockets.raw(pair.a, f.af, socket.IPPROTO_TCP)
    raw.sendto(segment, f.sockaddr(pair.b_addr, 0))


def test_forged_unsigned_rst_resets_plain_tcp(pair, sockets):
    """Control for the next test: the forged RST is valid and does reset an unsigned connection."""
    f = pair.family
    listener, client = ao_connection(pair, sockets, signed=False)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 4096)
    forge_rst(pair, sockets, client, server)
    expect_reset(server)


def test_forged_unsigned_rst_is_ignored_by_ao_connection(pair, sockets):
    f = pair.family
    listener, client = ao_connection(pair, sockets)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 4096)
    mib_b = MibDelta(pair.b)
    forge_rst(pair, sockets, client, server)
    assert mib_b.wait_for("TcpExtTCPAORequired")["TcpExtTCPAORequired"] == 1
    assert ao.get_info(server).pkt_ao_required == 1
    util.exchange(client, server, 4096)  # still connected
    assert util.tcp_info(server).state == util.TCP_ESTABLISHED
