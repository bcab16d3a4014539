"""MPTCP's own getsockopt(SOL_MPTCP, ...) calls, decoded (uapi linux/mptcp.h).

MPTCP_INFO returns ``struct mptcp_info`` (the connection-level state);
MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS return a ``struct mptcp_subflow_data``
header followed by one element per subflow, each ``size_user`` bytes (the
kernel fills at most that much of each and says how much it has in
``size_kernel``). Decoders are pure functions over bytes so they are tested
without a kernel; the getters are thin.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_TCPINFO = 2
MPTCP_SUBFLOW_ADDRS = 3

INFO_FLAG_FALLBACK = 1 << 0
INFO_FLAG_REMOTE_KEY_RECEIVED = 1 << 1

# struct mptcp_info as of 6.12 (96 bytes); older kernels return a prefix.
_INFO_FIELDS = (
    ("B", "subflows"), ("B", "add_addr_signal"), ("B", "add_addr_accepted"), ("B", "subflows_max"),
    ("B", "add_addr_signal_max"), ("B", "add_addr_accepted_max"), ("2x", None),
    ("I", "flags"), ("I", "token"), ("Q", "write_seq"), ("Q", "snd_una"), ("Q", "rcv_nxt"),
    ("B", "local_addr_used"), ("B", "local_addr_max"), ("B", "csum_enabled"), ("x", None),
    ("I", "retransmits"), ("Q", "bytes_retrans"), ("Q", "bytes_sent"), ("Q", "bytes_received"),
    ("Q", "bytes_acked"), ("B", "subflows_total"), ("3x", None),
    ("I", "last_data_sent"), ("I", "last_data_recv"), ("I", "last_ack_recv"),
)
MPTCP_INFO_SIZE = 96

_SUBFLOW_DATA = struct.Struct("=IIII")  # size_subflow_data, num_subflows, size_kernel, size_user
_SUBFLOW_DATA_SIZE = 16  # aligned(8)
_SOCKADDR_STORAGE = 128
SUBFLOW_ADDRS_SIZE = 2 * _SOCKADDR_STORAGE
TCPINFO_USER_SIZE = 136  # struct tcp_info up to tcpi_bytes_received
_TCPI_BYTES_ACKED = 120
_TCPI_BYTES_RECEIVED = 128
_LIBC = ctypes.CDLL(None, use_errno=True)


def parse_mptcp_info(data: bytes) -> dict[str, int]:
    """Fields of ``struct mptcp_info`` wholly contained in ``data``."""
    out: dict[str, int] = {}
    offset = 0
    for fmt, name in _INFO_FIELDS:
        size = struct.calcsize("=" + fmt)
        if offset + size > len(data):
            break
        if name is not None:
            (out[name],) = struct.unpack_from("=" + fmt, data, offset)
        offset += size
    return out


@dataclass(frozen=True)
class SubflowData:
    num_subflows: int
    size_kernel: int
    elements: list[bytes]


def subflow_request(count: int, size_user: int) -> bytes:
    """The buffer userspace passes: a header asking for ``count`` elements of ``size_user`` bytes."""
    header = _SUBFLOW_DATA.pack(_SUBFLOW_DATA_SIZE, 0, 0, size_user)
    return header + b"\0" * (_SUBFLOW_DATA_SIZE - _SUBFLOW_DATA.size + count * size_user)


def parse_subflow_data(data: bytes) -> SubflowData:
    """Split a MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS answer into its elements.

    The kernel writes back ``num_subflows`` (all subflows) and stores
    min(num_subflows, room) elements; ``size_user`` is the stride.
    """
    size_data, num, size_kernel, size_user = _SUBFLOW_DATA.unpack_from(data, 0)
    if size_data != _SUBFLOW_DATA_SIZE or size_user == 0:
        raise ValueError(f"unexpected mptcp_subflow_data header {size_data, num, size_kernel, size_user}")
    body = data[size_data:]
    stored = min(num, len(body) // size_user)
    return SubflowData(num, size_kernel, [body[i * size_user:(i + 1) * size_user] for i in range(stored)])


def parse_sockaddr(data: bytes) -> tuple[str, int]:
    """(host, port) of a sockaddr_in or sockaddr_in6 at the start of ``data``."""
    (family,) = struct.unpack_from("=H", data, 0)
    (port,) = struct.unpack_from("!H", data, 2)
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(data[4:8])), port
    if family == socket.AF_INET6:
        return str(ipaddress.IPv6Address(data[8:24])), port
    raise ValueError(f"unknown address family {family}")


def parse_subflow_addrs(element: bytes) -> tuple[tuple[str, int], tuple[str, int]]:
    """(local, remote) of one ``struct mptcp_subflow_addrs``."""
    return parse_sockaddr(element[:_SOCKADDR_STORAGE]), parse_sockaddr(element[_SOCKADDR_STORAGE:])


def parse_tcpinfo_bytes(element: bytes) -> tuple[int, int]:
    """(tcpi_bytes_acked, tcpi_bytes_received) of one ``struct tcp_info``."""
    return struct.unpack_from("=QQ", element, _TCPI_BYTES_ACKED)


def mptcp_info(sock: socket.socket) -> dict[str, int]:
    return parse_mptcp_info(sock.getsockopt(SOL_MPTCP, MPTCP_INFO, MPTCP_INFO_SIZE))


def _subflow_opt(sock: socket.socket, opt: int, size_user: int, room: int) -> SubflowData:
    # These options read the header userspace wrote into the buffer (a value-
    # result argument); Python's socket.getsockopt passes a zeroed buffer, so
    # call libc's getsockopt directly.
    request = subflow_request(room, size_user)
    buf = ctypes.create_string_buffer(request, len(request))
    length = ctypes.c_uint32(len(request))
    if _LIBC.getsockopt(sock.fileno(), SOL_MPTCP, opt, buf, ctypes.byref(length)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getsockopt(SOL_MPTCP, {opt}): {os.strerror(err)}")
    return parse_subflow_data(buf.raw[: length.value])


def subflow_addrs(sock: socket.socket, room: int = 8) -> tuple[int, list[tuple[tuple[str, int], tuple[str, int]]]]:
    """(number of subflows, [(local, remote)] of those that fit in ``room``)."""
    data = _subflow_opt(sock, MPTCP_SUBFLOW_ADDRS, SUBFLOW_ADDRS_SIZE, room)
    return data.num_subflows, [parse_subflow_addrs(e) for e in data.elements]


def subflow_tcpinfo(sock: socket.socket, room: int = 8) -> tuple[int, list[tuple[int, int]]]:
    """(number of subflows, [(bytes_acked, bytes_received)] per subflow)."""
    data = _subflow_opt(sock, MPTCP_TCPINFO, TCPINFO_USER_SIZE, room)
    return data.num_subflows, [parse_tcpinfo_bytes(e) for e in data.elements]
