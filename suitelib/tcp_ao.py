"""TCP-AO (RFC 5925) and TCP-MD5 (RFC 2385) socket options, from Python.

The kernel configures TCP-AO with five socket options on IPPROTO_TCP, each
taking a fixed C struct from ``include/uapi/linux/tcp.h`` (Linux 6.7+):

================  ==============================  ================================
option            struct                          what
================  ==============================  ================================
TCP_AO_ADD_KEY    ``struct tcp_ao_add``           add a Master Key Tuple (MKT)
TCP_AO_DEL_KEY    ``struct tcp_ao_del``           delete one, optionally switching
                                                  current/rnext atomically
TCP_AO_INFO       ``struct tcp_ao_info_opt``      get/set per-socket state:
                                                  counters, current/rnext key,
                                                  ao_required, accept_icmps
TCP_AO_GET_KEYS   ``struct tcp_ao_getsockopt``[]  dump (filtered) keys
TCP_AO_REPAIR     ``struct tcp_ao_repair``        get/set ISNs and SNEs of a
                                                  socket in TCP_REPAIR mode
================  ==============================  ================================

The ctypes structures here mirror those structs field for field, bitfields
included, and carry the structs' ``__attribute__((aligned(8)))`` (a
zero-length ``u64`` array as first member gives the alignment without
taking space). ``tests/unit/test_tcp_ao_binding.py`` compares every size
and offset with what gcc computes from the real header.

Why ctypes and libc's getsockopt: Python's ``socket.getsockopt(level, opt,
buflen)`` hands the kernel a zeroed buffer, but TCP_AO_GET_KEYS reads its
filter (``nkeys``, ``get_all``, address...) *from* the buffer and
TCP_AO_INFO checks that the caller's reserved bits are zero, so we call
libc's getsockopt with our own buffer. ``setsockopt`` goes through the
socket object. Errors are ``OSError`` with the kernel's errno, never
translated: the conformance tests assert on those errnos (EINVAL,
EKEYREJECTED, ENOENT, EBUSY, EMSGSIZE...).

Addresses: a key's peer is an ``ipaddress`` address (prefix = full length)
or network (its prefix length; ``0.0.0.0/0`` and ``::/0`` mean any peer,
which the kernel wants as address 0 with prefix 0). The sockaddr is packed
for the socket's family, since the kernel parses it by the socket's
family: on an AF_INET6 socket an IPv4 peer becomes a v4-mapped address,
and its prefix stays an IPv4 prefix length (the kernel's rule). Every
builder takes an explicit ``prefix`` too, so that tests can hand the kernel
combinations it must refuse.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

# --- constants from include/uapi/linux/tcp.h -------------------------------------------

TCP_MD5SIG = 14
TCP_REPAIR = 19
TCP_REPAIR_QUEUE = 20
TCP_QUEUE_SEQ = 21
TCP_REPAIR_OPTIONS = 22
TCP_TIMESTAMP = 24
TCP_REPAIR_WINDOW = 29
TCP_MD5SIG_EXT = 32
TCP_AO_ADD_KEY = 38
TCP_AO_DEL_KEY = 39
TCP_AO_INFO = 40
TCP_AO_GET_KEYS = 41
TCP_AO_REPAIR = 42

TCP_REPAIR_ON = 1
TCP_REPAIR_OFF = 0
TCP_REPAIR_OFF_NO_WP = -1  # leave repair mode without sending a window probe

TCP_NO_QUEUE, TCP_RECV_QUEUE, TCP_SEND_QUEUE = 0, 1, 2

TCP_MD5SIG_MAXKEYLEN = 80
TCP_MD5SIG_FLAG_PREFIX = 0x1
TCP_MD5SIG_FLAG_IFINDEX = 0x2

TCP_AO_MAXKEYLEN = 80
TCP_AO_KEYF_IFINDEX = 1 << 0  # the key is bound to an L3 master device (VRF)
TCP_AO_KEYF_EXCLUDE_OPT = 1 << 1  # TCP options other than AO are not in the MAC

ALG_NAME_LEN = 64
DEFAULT_MACLEN = 12  # RFC 5925: what maclen=0 selects

Peer = ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network | str

_libc = ctypes.CDLL(None, use_errno=True)
_libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
_libc.getsockopt.restype = ctypes.c_int

# --- structures ------------------------------------------------------------------------


class SockaddrStorage(ctypes.Union):
    """``struct __kernel_sockaddr_storage``: 128 bytes, pointer-aligned."""

    _fields_ = [
        ("ss_family", ctypes.c_uint16),
        ("data", ctypes.c_uint8 * 128),
        ("_align", ctypes.c_void_p),
    ]


class TcpMd5sig(ctypes.Structure):
    """``struct tcp_md5sig`` (TCP_MD5SIG, TCP_MD5SIG_EXT)."""

    _fields_ = [
        ("tcpm_addr", SockaddrStorage),
        ("tcpm_flags", ctypes.c_uint8),
        ("tcpm_prefixlen", ctypes.c_uint8),
        ("tcpm_keylen", ctypes.c_uint16),
        ("tcpm_ifindex", ctypes.c_int32),
        ("tcpm_key", ctypes.c_uint8 * TCP_MD5SIG_MAXKEYLEN),
    ]


class TcpAoAdd(ctypes.Structure):
    """``struct tcp_ao_add`` (setsockopt TCP_AO_ADD_KEY)."""

    _fields_ = [
        ("_align", ctypes.c_uint64 * 0),
        ("addr", SockaddrStorage),
        ("alg_name", ctypes.c_char * ALG_NAME_LEN),
        ("ifindex", ctypes.c_int32),
        ("set_current", ctypes.c_uint32, 1),
        ("set_rnext", ctypes.c_uint32, 1),
        ("reserved", ctypes.c_uint32, 30),
        ("reserved2", ctypes.c_uint16),
        ("prefix", ctypes.c_uint8),
        ("sndid", ctypes.c_uint8),
        ("rcvid", ctypes.c_uint8),
        ("maclen", ctypes.c_uint8),
        ("keyflags", ctypes.c_uint8),
        ("keylen", ctypes.c_uint8),
        ("key", ctypes.c_uint8 * TCP_AO_MAXKEYLEN),
    ]


class TcpAoDel(ctypes.Structure):
    """``struct tcp_ao_del`` (setsockopt TCP_AO_DEL_KEY)."""

    _fields_ = [
        ("_align", ctypes.c_uint64 * 0),
        ("addr", SockaddrStorage),
        ("ifindex", ctypes.c_int32),
        ("set_current", ctypes.c_uint32, 1),
        ("set_rnext", ctypes.c_uint32, 1),
        ("del_async", ctypes.c_uint32, 1),
        ("reserved", ctypes.c_uint32, 29),
        ("reserved2", ctypes.c_uint16),
        ("prefix", ctypes.c_uint8),
        ("sndid", ctypes.c_uint8),
        ("rcvid", ctypes.c_uint8),
        ("current_key", ctypes.c_uint8),
        ("rnext", ctypes.c_uint8),
        ("keyflags", ctypes.c_uint8),
    ]


class TcpAoInfoOpt(ctypes.Structure):
    """``struct tcp_ao_info_opt`` (get/setsockopt TCP_AO_INFO)."""

    _fields_ = [
        ("_align", ctypes.c_uint64 * 0),
        ("set_current", ctypes.c_uint32, 1),
        ("set_rnext", ctypes.c_uint32, 1),
        ("ao_required", ctypes.c_uint32, 1),
        ("set_counters", ctypes.c_uint32, 1),
        ("accept_icmps", ctypes.c_uint32, 1),
        ("reserved", ctypes.c_uint32, 27),
        ("reserved2", ctypes.c_uint16),
        ("current_key", ctypes.c_uint8),
        ("rnext", ctypes.c_uint8),
        ("pkt_good", ctypes.c_uint64),
        ("pkt_bad", ctypes.c_uint64),
        ("pkt_key_not_found", ctypes.c_uint64),
        ("pkt_ao_required", ctypes.c_uint64),
        ("pkt_dropped_icmp", ctypes.c_uint64),
    ]


class TcpAoGetsockopt(ctypes.Structure):
    """``struct tcp_ao_getsockopt`` (getsockopt TCP_AO_GET_KEYS; an array of them)."""

    _fields_ = [
        ("_align", ctypes.c_uint64 * 0),
        ("addr", SockaddrStorage),
        ("alg_name", ctypes.c_char * ALG_NAME_LEN),
        ("key", ctypes.c_uint8 * TCP_AO_MAXKEYLEN),
        ("nkeys", ctypes.c_uint32),
        ("is_current", ctypes.c_uint16, 1),
        ("is_rnext", ctypes.c_uint16, 1),
        ("get_all", ctypes.c_uint16, 1),
        ("reserved", ctypes.c_uint16, 13),
        ("sndid", ctypes.c_uint8),
        ("rcvid", ctypes.c_uint8),
        ("prefix", ctypes.c_uint8),
        ("maclen", ctypes.c_uint8),
        ("keyflags", ctypes.c_uint8),
        ("keylen", ctypes.c_uint8),
        ("ifindex", ctypes.c_int32),
        ("pkt_good", ctypes.c_uint64),
        ("pkt_bad", ctypes.c_uint64),
    ]


class TcpAoRepair(ctypes.Structure):
    """``struct tcp_ao_repair`` (get/setsockopt TCP_AO_REPAIR). ISNs are big-endian."""

    _fields_ = [
        ("_align", ctypes.c_uint64 * 0),
        ("snt_isn", ctypes.c_uint32),
        ("rcv_isn", ctypes.c_uint32),
        ("snd_sne", ctypes.c_uint32),
        ("rcv_sne", ctypes.c_uint32),
    ]


STRUCTS: dict[str, type[ctypes.Structure]] = {
    "tcp_md5sig": TcpMd5sig,
    "tcp_ao_add": TcpAoAdd,
    "tcp_ao_del": TcpAoDel,
    "tcp_ao_info_opt": TcpAoInfoOpt,
    "tcp_ao_getsockopt": TcpAoGetsockopt,
    "tcp_ao_repair": TcpAoRepair,
}

# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AoInfo:
    """What getsockopt(TCP_AO_INFO) reports.

    ``current_key`` is the SendID of the key used for outgoing segments and
    ``rnext`` the RecvID this side asks the peer to use (RNextKeyID), or
    None when the socket has none (a listener never has them).
    """

    pkt_good: int
    pkt_bad: int
    pkt_key_not_found: int
    pkt_ao_required: int
    pkt_dropped_icmp: int
    current_key: int | None
    rnext: int | None
    ao_required: bool
    accept_icmps: bool


@dataclass(frozen=True)
class AoKey:
    """One MKT as getsockopt(TCP_AO_GET_KEYS) reports it."""

    peer: ipaddress.IPv4Network | ipaddress.IPv6Network
    alg_name: str
    key: bytes
    sndid: int
    rcvid: int
    maclen: int
    keyflags: int
    ifindex: int
    is_current: bool
    is_rnext: bool
    pkt_good: int
    pkt_bad: int

    @property
    def prefix(self) -> int:
        return self.peer.prefixlen


@dataclass(frozen=True)
class AoRepair:
    """ISNs (host byte order) and sequence number extensions of a connection."""

    snt_isn: int
    rcv_isn: int
    snd_sne: int
    rcv_sne: int


# --- addresses -------------------------------------------------------------------------


def peer_network(peer: Peer) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A peer as a network: an address is a full-length prefix."""
    if isinstance(peer, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return peer
    return ipaddress.ip_network(peer)  # strict: "10.0.1.2/24" (host bits set) is refused


def pack_sockaddr(
    family: int, address: ipaddress.IPv4Address | ipaddress.IPv6Address | str, port: int = 0
) -> SockaddrStorage:
    """``sockaddr_in``/``sockaddr_in6`` for ``family`` in a sockaddr_storage.

    An IPv4 address on AF_INET6 becomes ``::ffff:a.b.c.d``. The port is in
    network order as the kernel expects (keys must have port 0: the kernel
    refuses others with EINVAL, which tests check).
    """
    address = ipaddress.ip_address(address)
    ss = SockaddrStorage()
    if family == socket.AF_INET:
        if address.version != 4:
            raise ValueError(f"{address} is not an IPv4 address (socket is AF_INET)")
        raw = socket.AF_INET.to_bytes(2, "little") + port.to_bytes(2, "big") + address.packed
    elif family == socket.AF_INET6:
        if address.version == 4:
            address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
        # sin6_family, sin6_port, sin6_flowinfo, sin6_addr, sin6_scope_id
        raw = socket.AF_INET6.to_bytes(2, "little") + port.to_bytes(2, "big") + bytes(4) + address.packed + bytes(4)
    else:
        raise ValueError(f"unsupported address family {family}")
    ctypes.memmove(ctypes.addressof(ss), raw, len(raw))
    return ss


def unpack_sockaddr(ss: SockaddrStorage) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """(address, port) of a packed sockaddr_in/sockaddr_in6."""
    raw = bytes(ss.data)
    family = ss.ss_family
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        return ipaddress.IPv4Address(raw[4:8]), port
    if family == socket.AF_INET6:
        return ipaddress.IPv6Address(raw[8:24]), port
    raise ValueError(f"unexpected sockaddr family {family}")


def _peer_fields(family: int, peer: Peer, prefix: int | None) -> tuple[SockaddrStorage, int]:
    net = peer_network(peer)
    if prefix is None:
        prefix = net.prefixlen
    return pack_sockaddr(family, net.network_address), prefix


def _key_bytes(key: bytes | str, limit: int) -> bytes:
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) > limit:
        raise ValueError(f"key of {len(data)} bytes is longer than {limit}")
    return data


# --- builders (tests mutate the result to probe the kernel's checks) -------------------


def ao_add_struct(
    family: int,
    peer: Peer,
    key: bytes | str,
    sndid: int,
    rcvid: int,
    *,
    alg: str = "hmac(sha1)",
    maclen: int = 0,
    prefix: int | None = None,
    set_current: bool = False,
    set_rnext: bool = False,
    ifindex: int = 0,
    keyflags: int | None = None,
) -> TcpAoAdd:
    """A filled ``struct tcp_ao_add``; ``keyflags=None`` sets KEYF_IFINDEX iff ifindex."""
    cmd = TcpAoAdd()
    cmd.addr, cmd.prefix = _peer_fields(family, peer, prefix)
    name = alg.encode()
    if len(name) >= ALG_NAME_LEN:
        raise ValueError(f"algorithm name {alg!r} too long")
    cmd.alg_name = name
    cmd.ifindex = ifindex
    cmd.set_current = int(set_current)
    cmd.set_rnext = int(set_rnext)
    cmd.sndid, cmd.rcvid, cmd.maclen = sndid, rcvid, maclen
    cmd.keyflags = (TCP_AO_KEYF_IFINDEX if ifindex else 0) if keyflags is None else keyflags
    data = _key_bytes(key, TCP_AO_MAXKEYLEN)
    cmd.keylen = len(data)
    ctypes.memmove(cmd.key, data, len(data))
    return cmd


def ao_del_struct(
    family: int,
    peer: Peer,
    sndid: int,
    rcvid: int,
    *,
    prefix: int | None = None,
    current_key: int | None = None,
    rnext: int | None = None,
    del_async: bool = False,
    ifindex: int = 0,
    keyflags: int | None = None,
) -> TcpAoDel:
    """A filled ``struct tcp_ao_del``; current_key/rnext switch keys in the same call."""
    cmd = TcpAoDel()
    cmd.addr, cmd.prefix = _peer_fields(family, peer, prefix)
    cmd.sndid, cmd.rcvid = sndid, rcvid
    cmd.ifindex = ifindex
    cmd.keyflags = (TCP_AO_KEYF_IFINDEX if ifindex else 0) if keyflags is None else keyflags
    cmd.del_async = int(del_async)
    if current_key is not None:
        cmd.set_current, cmd.current_key = 1, current_key
    if rnext is not None:
        cmd.set_rnext, cmd.rnext = 1, rnext
    return cmd


def md5_struct(
    family: int, peer: Peer, key: bytes | str, *, prefix: int | None = None, ifindex: int = 0,
    l3flag: bool | None = None,
) -> TcpMd5sig:
    """A filled ``struct tcp_md5sig``; an empty key means delete.

    ``l3flag`` (TCP_MD5SIG_FLAG_IFINDEX) defaults to "ifindex given"; True
    with ifindex 0 makes a key for the default VRF only, as opposed to a
    key without the flag, which matches in every VRF.
    """
    cmd = TcpMd5sig()
    net = peer_network(peer)
    cmd.tcpm_addr = pack_sockaddr(family, net.network_address)
    if prefix is not None or net.prefixlen != net.max_prefixlen:
        cmd.tcpm_flags |= TCP_MD5SIG_FLAG_PREFIX
        cmd.tcpm_prefixlen = net.prefixlen if prefix is None else prefix
    if bool(ifindex) if l3flag is None else l3flag:
        cmd.tcpm_flags |= TCP_MD5SIG_FLAG_IFINDEX
    cmd.tcpm_ifindex = ifindex
    data = _key_bytes(key, TCP_MD5SIG_MAXKEYLEN)
    cmd.tcpm_keylen = len(data)
    ctypes.memmove(cmd.tcpm_key, data, len(data))
    return cmd


# --- raw socket option calls -----------------------------------------------------------


def setsockopt_struct(sock: socket.socket, optname: int, value: ctypes.Structure | bytes, optlen: int | None = None) -> None:
    """setsockopt(IPPROTO_TCP, optname) with the struct's bytes (first ``optlen`` of them)."""
    data = bytes(value)
    if optlen is not None:
        data = data[:optlen] if optlen <= len(data) else data + bytes(optlen - len(data))
    sock.setsockopt(socket.IPPROTO_TCP, optname, data)


def getsockopt_into(sock: socket.socket, optname: int, buf: ctypes.Array | ctypes.Structure, optlen: int | None = None) -> int:
    """libc getsockopt(IPPROTO_TCP, optname) on ``buf`` as given (input and output).

    Returns the optlen the kernel wrote back; raises OSError with errno.
    """
    length = ctypes.c_uint32(ctypes.sizeof(buf) if optlen is None else optlen)
    if _libc.getsockopt(sock.fileno(), socket.IPPROTO_TCP, optname, ctypes.addressof(buf), ctypes.byref(length)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return length.value


# --- TCP-AO ----------------------------------------------------------------------------


def add_key(
    sock: socket.socket,
    peer: Peer,
    key: bytes | str,
    sndid: int,
    rcvid: int,
    *,
    alg: str = "hmac(sha1)",
    maclen: int = 0,
    prefix: int | None = None,
    set_current: bool = False,
    set_rnext: bool = False,
    ifindex: int = 0,
    keyflags: int | None = None,
) -> None:
    """Add an MKT for ``peer`` (an address, or a network for a listener's prefix key).

    ``sndid`` is the KeyID put on segments we sign, ``rcvid`` the KeyID we
    accept from the peer: the peer's key must have them swapped. ``maclen``
    0 means the RFC default, 12 bytes. ``alg`` is a kernel crypto name:
    ``hmac(sha1)``, ``cmac(aes128)`` (RFC 5926), ``hmac(sha256)``...
    """
    cmd = ao_add_struct(
        sock.family, peer, key, sndid, rcvid, alg=alg, maclen=maclen, prefix=prefix,
        set_current=set_current, set_rnext=set_rnext, ifindex=ifindex, keyflags=keyflags,
    )
    setsockopt_struct(sock, TCP_AO_ADD_KEY, cmd)


def del_key(
    sock: socket.socket,
    peer: Peer,
    sndid: int,
    rcvid: int,
    *,
    prefix: int | None = None,
    current_key: int | None = None,
    rnext: int | None = None,
    del_async: bool = False,
    ifindex: int = 0,
    keyflags: int | None = None,
) -> None:
    """Delete the MKT (peer, prefix, sndid, rcvid).

    The kernel refuses (EBUSY) to delete the current or rnext key of a
    connection unless ``current_key``/``rnext`` name replacements in the
    same call. ``del_async`` is for listeners only (EINVAL elsewhere).
    """
    cmd = ao_del_struct(
        sock.family, peer, sndid, rcvid, prefix=prefix, current_key=current_key, rnext=rnext,
        del_async=del_async, ifindex=ifindex, keyflags=keyflags,
    )
    setsockopt_struct(sock, TCP_AO_DEL_KEY, cmd)


def info_from_struct(opt: TcpAoInfoOpt) -> AoInfo:
    return AoInfo(
        pkt_good=opt.pkt_good,
        pkt_bad=opt.pkt_bad,
        pkt_key_not_found=opt.pkt_key_not_found,
        pkt_ao_required=opt.pkt_ao_required,
        pkt_dropped_icmp=opt.pkt_dropped_icmp,
        current_key=opt.current_key if opt.set_current else None,
        rnext=opt.rnext if opt.set_rnext else None,
        ao_required=bool(opt.ao_required),
        accept_icmps=bool(opt.accept_icmps),
    )


def get_info(sock: socket.socket) -> AoInfo:
    """Per-socket TCP-AO state and counters; ENOENT if the socket has no TCP-AO."""
    opt = TcpAoInfoOpt()
    getsockopt_into(sock, TCP_AO_INFO, opt)
    return info_from_struct(opt)


def set_info(
    sock: socket.socket,
    *,
    ao_required: bool | None = None,
    accept_icmps: bool | None = None,
    current_key: int | None = None,
    rnext: int | None = None,
    counters: dict[str, int] | None = None,
) -> None:
    """setsockopt(TCP_AO_INFO).

    The kernel writes ``ao_required`` and ``accept_icmps`` on every call, so
    a None here keeps the socket's present value (read first; False when
    the socket has no TCP-AO yet) instead of silently clearing it.
    ``current_key`` is a SendID, ``rnext`` a RecvID (ENOENT if no such key).
    ``counters`` (``pkt_good``...) overwrites the counters.
    """
    if ao_required is None or accept_icmps is None:
        try:
            present = get_info(sock)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            present = None
        if ao_required is None:
            ao_required = present.ao_required if present else False
        if accept_icmps is None:
            accept_icmps = present.accept_icmps if present else False
    opt = TcpAoInfoOpt()
    opt.ao_required = int(ao_required)
    opt.accept_icmps = int(accept_icmps)
    if current_key is not None:
        opt.set_current, opt.current_key = 1, current_key
    if rnext is not None:
        opt.set_rnext, opt.rnext = 1, rnext
    if counters is not None:
        opt.set_counters = 1
        for name, value in counters.items():
            if name not in ("pkt_good", "pkt_bad", "pkt_key_not_found", "pkt_ao_required", "pkt_dropped_icmp"):
                raise ValueError(f"unknown TCP-AO counter {name!r}")
            setattr(opt, name, value)
    setsockopt_struct(sock, TCP_AO_INFO, opt)


def key_from_struct(out: TcpAoGetsockopt) -> AoKey:
    address, _port = unpack_sockaddr(out.addr)
    return AoKey(
        peer=ipaddress.ip_network(f"{address}/{out.prefix}", strict=False),
        alg_name=out.alg_name.decode(),
        key=bytes(out.key[: out.keylen]),
        sndid=out.sndid,
        rcvid=out.rcvid,
        maclen=out.maclen,
        keyflags=out.keyflags,
        ifindex=out.ifindex,
        is_current=bool(out.is_current),
        is_rnext=bool(out.is_rnext),
        pkt_good=out.pkt_good,
        pkt_bad=out.pkt_bad,
    )


def get_keys(
    sock: socket.socket,
    get_all: bool = True,
    *,
    is_current: bool = False,
    is_rnext: bool = False,
    peer: Peer | None = None,
    sndid: int = 0,
    rcvid: int = 0,
    max_keys: int = 16,
) -> list[AoKey]:
    """The socket's MKTs: all of them, the current and/or rnext key, or
    those matching (peer, sndid, rcvid) exactly (give ``peer`` and
    ``get_all=False``). Grows the buffer when more keys match than fit.
    """
    if is_current or is_rnext or peer is not None:
        get_all = False
    while True:
        buf = (TcpAoGetsockopt * max_keys)()
        first = buf[0]
        first.nkeys = max_keys
        first.get_all = int(get_all)
        first.is_current = int(is_current)
        first.is_rnext = int(is_rnext)
        if peer is not None:
            first.addr, first.prefix = _peer_fields(sock.family, peer, None)
            first.sndid, first.rcvid = sndid, rcvid
        getsockopt_into(sock, TCP_AO_GET_KEYS, buf, ctypes.sizeof(TcpAoGetsockopt))
        matched = buf[0].nkeys
        if matched <= max_keys:
            return [key_from_struct(buf[i]) for i in range(matched)]
        max_keys = matched


def repair_from_struct(opt: TcpAoRepair) -> AoRepair:
    return AoRepair(
        snt_isn=socket.ntohl(opt.snt_isn), rcv_isn=socket.ntohl(opt.rcv_isn),
        snd_sne=opt.snd_sne, rcv_sne=opt.rcv_sne,
    )


def get_repair(sock: socket.socket) -> AoRepair:
    """ISNs and SNEs; the socket must be in TCP_REPAIR mode (EPERM otherwise)."""
    opt = TcpAoRepair()
    getsockopt_into(sock, TCP_AO_REPAIR, opt)
    return repair_from_struct(opt)


def set_repair(sock: socket.socket, state: AoRepair) -> None:
    """Restore ISNs and SNEs (TCP_REPAIR mode only); traffic keys are recomputed."""
    opt = TcpAoRepair(
        snt_isn=socket.htonl(state.snt_isn), rcv_isn=socket.htonl(state.rcv_isn),
        snd_sne=state.snd_sne, rcv_sne=state.rcv_sne,
    )
    setsockopt_struct(sock, TCP_AO_REPAIR, opt)


def set_tcp_repair(sock: socket.socket, value: int) -> None:
    """setsockopt(TCP_REPAIR): TCP_REPAIR_ON, TCP_REPAIR_OFF or TCP_REPAIR_OFF_NO_WP."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, value.to_bytes(4, "little", signed=True))


@contextlib.contextmanager
def repair_mode(sock: socket.socket, off: int = TCP_REPAIR_OFF_NO_WP) -> Iterator[socket.socket]:
    """The block runs with the socket in TCP_REPAIR mode (needs CAP_NET_ADMIN).

    TCP_AO_REPAIR works only there. On exit, repair mode is left with
    ``off`` (by default without a window probe, so a look leaves no trace
    on the wire).
    """
    set_tcp_repair(sock, TCP_REPAIR_ON)
    try:
        yield sock
    finally:
        set_tcp_repair(sock, off)


# --- TCP-MD5 ---------------------------------------------------------------------------


def set_md5_key(
    sock: socket.socket, peer: Peer, key: bytes | str, prefix: int | None = None, ifindex: int = 0,
    l3flag: bool | None = None,
) -> None:
    """Add (or with an empty key, delete) a TCP-MD5 key for ``peer``.

    A plain address uses TCP_MD5SIG; a network, explicit prefix or an
    L3 device (``ifindex``/``l3flag``, see :func:`md5_struct`) needs
    TCP_MD5SIG_EXT with the matching flags.
    """
    cmd = md5_struct(sock.family, peer, key, prefix=prefix, ifindex=ifindex, l3flag=l3flag)
    setsockopt_struct(sock, TCP_MD5SIG_EXT if cmd.tcpm_flags else TCP_MD5SIG, cmd)


def del_md5_key(sock: socket.socket, peer: Peer, prefix: int | None = None) -> None:
    set_md5_key(sock, peer, b"", prefix=prefix)


# --- probing ---------------------------------------------------------------------------


def tcp_ao_supported(sock: socket.socket | None = None) -> bool:
    """Whether the kernel (of ``sock``'s namespace, or ours) has TCP-AO.

    A 4-byte TCP_AO_ADD_KEY is shorter than ``struct tcp_ao_add``: a kernel
    with TCP-AO answers EINVAL, one without does not know the option and
    answers ENOPROTOOPT (DESIGN.md). Fewer than 4 bytes would not do: the
    kernel checks ``optlen >= sizeof(int)`` before it looks at the option.
    """
    own = sock is None
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM) if own else sock
    try:
        probe.setsockopt(socket.IPPROTO_TCP, TCP_AO_ADD_KEY, bytes(4))
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return True
        if exc.errno == errno.ENOPROTOOPT:
            return False
        raise
    finally:
        if own:
            probe.close()
    raise AssertionError("a 4-byte TCP_AO_ADD_KEY was accepted")
