"""Helpers of the TCP-AO suite (``tests/net/tcp_ao``): sockets that are
always closed, bounded connects and transfers, TCP state from TCP_INFO and
TCP_REPAIR, MIB counters, hand-made packets (forged RSTs and ICMP errors),
and a TCP_REPAIR checkpoint/restore of an idle established connection.

The socket option binding itself is ``suitelib.tcp_ao``. Everything here
takes live nodes (``run``/``socket`` methods) and plain sockets; every
blocking call has a timeout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import select
import socket
import struct
import termios
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from suitelib import tcp_ao as ao

from . import nstat
from .packets import inet_checksum as checksum
from .wait import poll

TIMEOUT = 20.0  # any single blocking step; generous for TCG guests
CHUNK = 1 << 16

# TcpExt counters of TCP-AO (net/ipv4/proc.c) and of TCP-MD5, as nstat names them.
AO_MIB = ("TcpExtTCPAOGood", "TcpExtTCPAOBad", "TcpExtTCPAOKeyNotFound", "TcpExtTCPAORequired",
          "TcpExtTCPAODroppedIcmps")
MD5_MIB = ("TcpExtTCPMD5NotFound", "TcpExtTCPMD5Unexpected", "TcpExtTCPMD5Failure")

# tcp_states.h
TCP_ESTABLISHED, TCP_SYN_SENT, TCP_CLOSE = 1, 2, 7
# tcp_info.tcpi_options bits
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE = 1, 2, 4
# TCP option kinds for TCP_REPAIR_OPTIONS
TCPOPT_MAXSEG, TCPOPT_WINDOW, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP = 2, 3, 4, 8

IP_RECVERR = 11
IPV6_RECVERR = 25


# --- families ---------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """One address family of a parametrized test."""

    name: str  # "ipv4" / "ipv6", the test id
    af: int
    version: int

    @property
    def any(self) -> str:
        return "0.0.0.0" if self.version == 4 else "::"

    @property
    def max_prefix(self) -> int:
        return 32 if self.version == 4 else 128

    def sockaddr(self, address: Any, port: int) -> tuple:
        return (str(address), port) if self.version == 4 else (str(address), port, 0, 0)


IPV4 = Family("ipv4", socket.AF_INET, 4)
IPV6 = Family("ipv6", socket.AF_INET6, 6)
FAMILIES = (IPV4, IPV6)


def address(node: Any, ifname: str, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The (first, global) address of ``version`` on ``node``'s ``ifname``."""
    for iface in node.addresses(ifname):
        if iface.version == version and not iface.ip.is_link_local:
            return iface.ip
    raise AssertionError(f"{node.name}:{ifname} has no IPv{version} address")


def interface(node: Any, ifname: str, version: int) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    for iface in node.addresses(ifname):
        if iface.version == version and not iface.ip.is_link_local:
            return iface
    raise AssertionError(f"{node.name}:{ifname} has no IPv{version} address")


# --- sockets that are always closed -------------------------------------------------


class Sockets:
    """Creates sockets in nodes and closes every one of them (also the
    accepted ones) when the test ends: the ``sockets`` fixture."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def own(self, sock: socket.socket) -> socket.socket:
        self._stack.callback(sock.close)
        sock.settimeout(TIMEOUT)
        return sock

    def tcp(self, node: Any, family: Family) -> socket.socket:
        return self.own(node.socket(family.af, socket.SOCK_STREAM, socket.IPPROTO_TCP))

    def listener(
        self, node: Any, family: Family, bind: Any = None, *, backlog: int = 8,
        setup: Callable[[socket.socket], None] | None = None,
    ) -> socket.socket:
        """A TCP socket bound to ``bind`` (default: any) port 0. ``setup`` runs
        before listen() (keys added to a listener apply to its children)."""
        sock = self.tcp(node, family)
        sock.bind(family.sockaddr(bind if bind is not None else family.any, 0))
        if setup is not None:
            setup(sock)
        sock.listen(backlog)
        return sock

    def accept(self, listener: socket.socket, timeout: float = TIMEOUT) -> socket.socket:
        listener.settimeout(timeout)
        conn, _ = listener.accept()
        return self.own(conn)

    def raw(self, node: Any, af: int, proto: int) -> socket.socket:
        return self.own(node.socket(af, socket.SOCK_RAW, proto))


def port_of(sock: socket.socket) -> int:
    return sock.getsockname()[1]


def connect(sock: socket.socket, family: Family, dst: Any, port: int, timeout: float = TIMEOUT) -> None:
    sock.settimeout(timeout)
    sock.connect(family.sockaddr(dst, port))
    sock.settimeout(TIMEOUT)


def connect_pair(
    sockets: Sockets, family: Family, client: socket.socket, listener: socket.socket, dst: Any
) -> socket.socket:
    """Connect ``client`` to ``listener`` (at address ``dst``) and return the accepted socket."""
    connect(client, family, dst, port_of(listener))
    return sockets.accept(listener)


def start_connect(sock: socket.socket, family: Family, dst: Any, port: int) -> None:
    """Send the SYN and return at once (non-blocking connect)."""
    sock.setblocking(False)
    err = sock.connect_ex(family.sockaddr(dst, port))
    if err not in (errno.EINPROGRESS, 0):
        raise OSError(err, os.strerror(err))


def assert_handshake_stalled(client: socket.socket, listener: socket.socket, settle: float = 0.3) -> None:
    """The connection attempt of ``client`` (started with :func:`start_connect`)
    neither completed nor failed, and nothing waits on ``listener``."""
    _, writable, _ = select.select([], [client], [], settle)
    assert not writable, (
        f"connect finished (SO_ERROR={client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}), "
        "expected the handshake to stall"
    )
    assert tcp_info(client).state == TCP_SYN_SENT
    readable, _, _ = select.select([listener], [], [], 0)
    assert not readable, "the listener has a connection to accept"


# --- data ---------------------------------------------------------------------------


def pump(src: socket.socket, dst: socket.socket, size: int, timeout: float = TIMEOUT) -> None:
    """Move ``size`` random bytes from ``src`` to ``dst`` and check them.

    One thread, both sockets non-blocking under select(), so it works for
    any size whatever the socket buffers are.
    """
    data = os.urandom(size)
    got = bytearray()
    sent = 0
    deadline = time.monotonic() + timeout
    src.setblocking(False)
    dst.setblocking(False)
    try:
        while len(got) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"moved {len(got)} of {size} bytes in {timeout} s (sent {sent})")
            readable, writable, _ = select.select([dst], [src] if sent < size else [], [], left)
            if writable:
                with contextlib.suppress(BlockingIOError):
                    sent += src.send(data[sent:sent + CHUNK])
            if readable:
                chunk = dst.recv(CHUNK)
                if not chunk:
                    raise ConnectionError(f"peer closed after {len(got)} of {size} bytes")
                got += chunk
    finally:
        src.settimeout(TIMEOUT)
        dst.settimeout(TIMEOUT)
    assert bytes(got) == data, "data corrupted in transit"


def exchange(a: socket.socket, b: socket.socket, size: int = 32 << 10, timeout: float = TIMEOUT) -> None:
    """``size`` bytes each way, content checked."""
    pump(a, b, size, timeout)
    pump(b, a, size, timeout)


def wait_all_acked(sock: socket.socket, timeout: float = TIMEOUT) -> None:
    """Until the send queue of ``sock`` is empty (everything acknowledged)."""
    left = poll(lambda: outq(sock), lambda n: n == 0, timeout=timeout)
    assert left == 0, f"{left} bytes still unacknowledged after {timeout} s"


def _ioctl_int(sock: socket.socket, request: int) -> int:
    buf = fcntl.ioctl(sock.fileno(), request, b"\0" * 4)
    return struct.unpack("i", buf)[0]


def outq(sock: socket.socket) -> int:
    """Bytes in the send queue, sent or not (SIOCOUTQ)."""
    return _ioctl_int(sock, termios.TIOCOUTQ)


def inq(sock: socket.socket) -> int:
    return _ioctl_int(sock, termios.FIONREAD)


def set_recverr(sock: socket.socket, family: Family) -> None:
    """Report ICMP errors on an established socket as hard errors (RFC 1122
    lets TCP treat them as soft errors otherwise), as icmps-discard.c does."""
    if family.version == 4:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)


def abort(sock: socket.socket) -> None:
    """close() with SO_LINGER {on, 0}: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- TCP state ------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpInfo:
    state: int
    options: int
    snd_wscale: int
    rcv_wscale: int
    pmtu: int
    snd_mss: int


def tcp_info(sock: socket.socket) -> TcpInfo:
    """The fields of ``struct tcp_info`` the suite uses (stable since 2.6)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    wscale = raw[6]
    return TcpInfo(
        state=raw[0],
        options=raw[5],
        snd_wscale=wscale & 0xF,
        rcv_wscale=wscale >> 4,
        snd_mss=struct.unpack_from("I", raw, 16)[0],
        pmtu=struct.unpack_from("I", raw, 60)[0],
    )


def _getint(sock: socket.socket, opt: int) -> int:
    return struct.unpack("i", sock.getsockopt(socket.IPPROTO_TCP, opt, 4))[0]


def _setint(sock: socket.socket, opt: int, value: int) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, opt, struct.pack("i", value))


def queue_seq(sock: socket.socket, queue: int) -> int:
    """TCP_QUEUE_SEQ of the send (write_seq) or receive (rcv_nxt) queue; repair mode only."""
    _setint(sock, ao.TCP_REPAIR_QUEUE, queue)
    return struct.unpack("I", sock.getsockopt(socket.IPPROTO_TCP, ao.TCP_QUEUE_SEQ, 4))[0]


def rcv_nxt(sock: socket.socket) -> int:
    """The next sequence number ``sock`` expects (peeked in repair mode)."""
    with ao.repair_mode(sock):
        return queue_seq(sock, ao.TCP_RECV_QUEUE)


# --- MIB counters -------------------------------------------------------------------


def mib(node: Any, names: Iterable[str] = AO_MIB + MD5_MIB) -> dict[str, int]:
    """The named counters of the node's namespace (absent counters read 0)."""
    values = nstat.counters(node)
    return {name: values.get(name, 0) for name in names}


class MibDelta:
    """MIB counters of a node before and after: ``with MibDelta(node) as d: ...; d.moved``."""

    def __init__(self, node: Any, names: Iterable[str] = AO_MIB + MD5_MIB) -> None:
        self.node = node
        self.names = tuple(names)
        self.before = mib(node, self.names)

    def now(self) -> dict[str, int]:
        return nstat.delta(self.before, mib(self.node, self.names), self.names)

    def wait_for(self, name: str, at_least: int = 1, timeout: float = TIMEOUT) -> dict[str, int]:
        """Poll until counter ``name`` moved by ``at_least``; returns all deltas."""
        return poll(self.now, lambda d: d[name] >= at_least, timeout=timeout)


def wait_info(sock: socket.socket, field: str, at_least: int = 1, timeout: float = TIMEOUT) -> ao.AoInfo:
    """Poll getsockopt(TCP_AO_INFO) until counter ``field`` reaches ``at_least``."""
    return poll(lambda: ao.get_info(sock), lambda i: getattr(i, field) >= at_least, timeout=timeout)


# --- hand-made packets ------------------------------------------------------------------


def _pseudo_header(src: ipaddress._BaseAddress, dst: ipaddress._BaseAddress, proto: int, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, proto)


def tcp_segment(src: Any, dst: Any, sport: int, dport: int, seq: int, ack: int = 0, flags: str = "R") -> bytes:
    """A 20-byte TCP header without options, checksummed for (src, dst)."""
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    bits = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}
    value = sum(bits[f] for f in flags)
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, value, 0, 0, 0)
    csum = checksum(_pseudo_header(src, dst, socket.IPPROTO_TCP, len(header)) + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def ipv4_header(src: Any, dst: Any, proto: int, payload_len: int, ttl: int = 64) -> bytes:
    src, dst = ipaddress.IPv4Address(src), ipaddress.IPv4Address(dst)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, ttl, proto, 0, src.packed, dst.packed)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]


def ipv6_header(src: Any, dst: Any, proto: int, payload_len: int, hop_limit: int = 64) -> bytes:
    src, dst = ipaddress.IPv6Address(src), ipaddress.IPv6Address(dst)
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, proto, hop_limit, src.packed, dst.packed)


def icmp_error(family: Family, type_: int, code: int, inner_src: Any, inner_dst: Any,
               sport: int, dport: int, seq: int, mtu: int = 0) -> bytes:
    """An ICMP(v6) error message quoting a TCP segment inner_src:sport ->
    inner_dst:dport with sequence ``seq`` (the first 8 TCP bytes, as RFC 792
    requires at least). The ICMPv4 checksum is filled in; for ICMPv6 the
    kernel computes it (raw ICMPv6 sockets always do)."""
    tcp8 = struct.pack("!HHI", sport, dport, seq)
    if family.version == 4:
        inner = ipv4_header(inner_src, inner_dst, socket.IPPROTO_TCP, 20) + tcp8
        body = struct.pack("!BBHHH", type_, code, 0, 0, mtu) + inner
        return body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    inner = ipv6_header(inner_src, inner_dst, socket.IPPROTO_TCP, 20) + tcp8
    return struct.pack("!BBHI", type_, code, 0, mtu) + inner


# --- TCP_REPAIR checkpoint / restore of an idle connection ------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """What it takes to rebuild an idle established TCP-AO connection
    (a simplified lib/repair.c of the kernel selftests: empty queues only)."""

    local: tuple
    peer: tuple
    info: TcpInfo
    window: tuple[int, int, int, int, int]  # snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup
    snd_seq: int  # write_seq
    rcv_seq: int  # rcv_nxt
    mss: int
    timestamp: int
    ao: ao.AoRepair


def checkpoint(sock: socket.socket) -> Checkpoint:
    """Dump an idle connection; the socket must be in repair mode."""
    assert outq(sock) == 0 and inq(sock) == 0, "checkpoint() handles idle connections only"
    return Checkpoint(
        local=sock.getsockname(),
        peer=sock.getpeername(),
        info=tcp_info(sock),
        window=struct.unpack("5I", sock.getsockopt(socket.IPPROTO_TCP, ao.TCP_REPAIR_WINDOW, 20)),
        snd_seq=queue_seq(sock, ao.TCP_SEND_QUEUE),
        rcv_seq=queue_seq(sock, ao.TCP_RECV_QUEUE),
        mss=_getint(sock, socket.TCP_MAXSEG),
        timestamp=struct.unpack("I", sock.getsockopt(socket.IPPROTO_TCP, ao.TCP_TIMESTAMP, 4))[0],
        ao=ao.get_repair(sock),
    )


def kill(sock: socket.socket) -> None:
    """Close without a FIN or RST on the wire (repair-mode close)."""
    ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
    sock.close()


def shift_sequences(cp: Checkpoint, snd_seq: int, rcv_seq: int) -> Checkpoint:
    """The same connection with its send/receive sequence numbers moved
    (the window edges move with them); ISNs and SNEs stay."""
    snd_wl1, snd_wnd, max_window, rcv_wnd, _rcv_wup = cp.window
    delta = (rcv_seq - cp.rcv_seq) & 0xFFFFFFFF
    return replace(
        cp, snd_seq=snd_seq, rcv_seq=rcv_seq,
        window=((snd_wl1 + delta) & 0xFFFFFFFF, snd_wnd, max_window, rcv_wnd, rcv_seq),
    )


def restore(sock: socket.socket, cp: Checkpoint, peer: tuple, add_keys: Callable[[socket.socket], None]) -> None:
    """Rebuild ``cp`` on a fresh, bound socket, connected (in repair mode:
    no handshake) to ``peer``; ``add_keys`` adds the MKTs before
    TCP_AO_REPAIR restores ISNs and SNEs. Leaves repair mode."""
    ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
    _setint(sock, ao.TCP_REPAIR_QUEUE, ao.TCP_RECV_QUEUE)
    sock.setsockopt(socket.IPPROTO_TCP, ao.TCP_QUEUE_SEQ, struct.pack("I", cp.rcv_seq))
    _setint(sock, ao.TCP_REPAIR_QUEUE, ao.TCP_SEND_QUEUE)
    sock.setsockopt(socket.IPPROTO_TCP, ao.TCP_QUEUE_SEQ, struct.pack("I", cp.snd_seq))
    sock.connect(peer)
    opts = []
    if cp.info.options & TCPI_OPT_SACK:
        opts.append((TCPOPT_SACK_PERM, 0))
    if cp.info.options & TCPI_OPT_WSCALE:
        opts.append((TCPOPT_WINDOW, cp.info.snd_wscale + (cp.info.rcv_wscale << 16)))
    if cp.info.options & TCPI_OPT_TIMESTAMPS:
        opts.append((TCPOPT_TIMESTAMP, 0))
    opts.append((TCPOPT_MAXSEG, cp.mss))
    sock.setsockopt(socket.IPPROTO_TCP, ao.TCP_REPAIR_OPTIONS, b"".join(struct.pack("II", *o) for o in opts))
    if cp.info.options & TCPI_OPT_TIMESTAMPS:
        sock.setsockopt(socket.IPPROTO_TCP, ao.TCP_TIMESTAMP, struct.pack("I", cp.timestamp))
    sock.setsockopt(socket.IPPROTO_TCP, ao.TCP_REPAIR_WINDOW, struct.pack("5I", *cp.window))
    add_keys(sock)
    ao.set_repair(sock, cp.ao)
    ao.set_tcp_repair(sock, ao.TCP_REPAIR_OFF_NO_WP)
