"""ICMP errors on TCP-AO connections (RFC 5925 section 7.8, accept_icmps).

RFC 5925 7.8: a TCP-AO implementation MUST by default ignore ICMPv4 type 3
codes 2-4 (protocol unreachable, port unreachable, fragmentation needed)
and ICMPv6 type 1 codes 1 and 4 (administratively prohibited, port
unreachable) for connections in synchronized states that match MKTs. In
Linux that default is ``accept_icmps`` off (TCP_AO_INFO); ignored ICMPs are
counted in the socket's ``pkt_dropped_icmp`` and TcpExtTCPAODroppedIcmps.

Two ways of making ICMP errors:

- Hand-made (topology tcp-ao-pair), as ``icmps-discard.c`` and
  ``icmps-accept.c`` do: node a sends b ICMP errors quoting b's connection
  (inner packet b -> a with b's snd_nxt as sequence number, so it passes the
  in-window check). b's socket has IP_RECVERR/IPV6_RECVERR set, so an
  accepted hard error becomes a socket error.
- Real ones from a router (topology tcp-ao-routed): r's link to b has an
  MTU of 1280, so bulk data from a makes r send "fragmentation needed"
  (IPv4) or "packet too big" (IPv6). With accept_icmps off, IPv4 path MTU
  discovery breaks (the error is one of the ignored codes): the counter
  moves and the path MTU stays 1500. ICMPv6 "packet too big" (type 2) is not
  on the RFC's list, so it is honoured whatever accept_icmps says.
"""

from __future__ import annotations

import errno
import socket

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta
from suitelib.wait import poll

pytestmark = pytest.mark.requires(tools=["nstat"])

KEY = b"key of the ICMP tests"
ICMP_DEST_UNREACH, ICMPV6_DEST_UNREACH = 3, 1
# The hard errors RFC 5925 7.8 tells TCP-AO to ignore (code, mtu field).
IGNORED = {4: [(2, 0), (3, 0), (4, 1200)], 6: [(1, 0), (4, 0)]}
PORT_UNREACH = {4: 3, 6: 4}
DEST_UNREACH_MIB = {4: "IcmpInDestUnreachs", 6: "Icmp6InDestUnreachs"}


def icmp_mib(family: util.Family) -> tuple[str, ...]:
    return (DEST_UNREACH_MIB[family.version], "TcpExtTCPAODroppedIcmps")


def send_icmp_errors(pair, sockets, client, server, codes) -> None:
    """From a to b: destination unreachable errors quoting b's connection."""
    f = pair.family
    seq = util.rcv_nxt(client)  # = b's snd_nxt: in b's window
    proto = socket.IPPROTO_ICMP if f.version == 4 else socket.IPPROTO_ICMPV6
    raw = sockets.raw(pair.a, f.af, proto)
    for code, mtu in codes:
        msg = util.icmp_error(
            f, ICMP_DEST_UNREACH if f.version == 4 else ICMPV6_DEST_UNREACH, code,
            inner_src=pair.b_addr, inner_dst=pair.a_addr,
            sport=util.port_of(server), dport=util.port_of(client), seq=seq, mtu=mtu,
        )
        raw.sendto(msg, f.sockaddr(pair.b_addr, 0))


def connection(pair, sockets, accept_icmps: bool):
    f = pair.family

    def setup(listener):
        ao.add_key(listener, pair.a_addr, KEY, 100, 100)
        ao.set_info(listener, accept_icmps=accept_icmps)

    listener = sockets.listener(pair.b, f, setup=setup)
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, pair.b_addr, KEY, 100, 100)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    assert ao.get_info(server).accept_icmps is accept_icmps, "accept_icmps is inherited from the listener"
    util.set_recverr(server, f)
    util.exchange(client, server, 4096)
    util.wait_all_acked(server)
    return client, server


@pytest.mark.topology("tcp-ao-pair")
def test_hard_icmp_errors_are_ignored_by_default(pair, sockets):
    """icmps-discard.c: the connection survives, every error is counted as dropped."""
    f = pair.family
    client, server = connection(pair, sockets, accept_icmps=False)
    codes = IGNORED[f.version]
    mib_b = MibDelta(pair.b, icmp_mib(f))
    send_icmp_errors(pair, sockets, client, server, codes)
    delta = mib_b.wait_for("TcpExtTCPAODroppedIcmps", len(codes))
    assert delta == {DEST_UNREACH_MIB[f.version]: len(codes), "TcpExtTCPAODroppedIcmps": len(codes)}, delta
    assert ao.get_info(server).pkt_dropped_icmp == len(codes)
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    util.exchange(client, server, 4096)


@pytest.mark.topology("tcp-ao-pair")
def test_hard_icmp_error_is_accepted_with_accept_icmps(pair, sockets):
    """icmps-accept.c: with accept_icmps the same error kills the connection."""
    f = pair.family
    client, server = connection(pair, sockets, accept_icmps=True)
    mib_b = MibDelta(pair.b, icmp_mib(f))
    send_icmp_errors(pair, sockets, client, server, [(PORT_UNREACH[f.version], 0)])
    err = poll(lambda: server.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), lambda e: e != 0, timeout=util.TIMEOUT)
    assert err == errno.ECONNREFUSED, errno.errorcode.get(err, err)
    assert mib_b.now() == {DEST_UNREACH_MIB[f.version]: 1, "TcpExtTCPAODroppedIcmps": 0}
    assert ao.get_info(server).pkt_dropped_icmp == 0


def fill(sock: socket.socket, size: int) -> int:
    """Queue up to ``size`` bytes without blocking; returns how many."""
    sock.setblocking(False)
    queued = 0
    try:
        while queued < size:
            queued += sock.send(b"x" * min(util.CHUNK, size - queued))
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(util.TIMEOUT)
    return queued


@pytest.mark.topology("tcp-ao-routed")
@pytest.mark.parametrize("accept_icmps", [False, True], ids=["accept_icmps-off", "accept_icmps-on"])
def test_router_mtu_error(topo, family, sockets, accept_icmps):
    a, b = topo["a"], topo["b"]
    a_addr, b_addr = util.address(a, "eth0", family.version), util.address(b, "eth0", family.version)
    listener = sockets.listener(b, family, setup=lambda s: ao.add_key(s, a_addr, KEY, 100, 100))
    client = sockets.tcp(a, family)
    ao.add_key(client, b_addr, KEY, 100, 100)
    ao.set_info(client, accept_icmps=accept_icmps)
    server = util.connect_pair(sockets, family, client, listener, b_addr)
    util.exchange(client, server, 512)  # small segments pass the 1280-byte link
    assert util.tcp_info(client).pmtu == 1500
    mib_a = MibDelta(a, icmp_mib(family) + ("TcpExtTCPAOBad",))

    if family.version == 4 and not accept_icmps:
        # "Fragmentation needed" is ignored: PMTU discovery cannot work.
        fill(client, 256 << 10)
        delta = mib_a.wait_for("TcpExtTCPAODroppedIcmps")
        assert delta["TcpExtTCPAODroppedIcmps"] >= 1 and delta["IcmpInDestUnreachs"] >= 1, delta
        assert util.wait_info(client, "pkt_dropped_icmp").pkt_dropped_icmp >= 1
        assert util.tcp_info(client).pmtu == 1500, "the ignored ICMP changed the path MTU"
        return

    # IPv4 with accept_icmps, or IPv6 either way (packet too big is not a
    # hard error for RFC 5925): the path MTU drops and the data gets through.
    util.pump(client, server, 256 << 10)
    assert util.tcp_info(client).pmtu == 1280
    delta = mib_a.now()
    assert delta["TcpExtTCPAODroppedIcmps"] == 0 and delta["TcpExtTCPAOBad"] == 0, delta
    assert ao.get_info(client).pkt_dropped_icmp == 0
