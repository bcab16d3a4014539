"""A small synchronous rtnetlink client for the topology builder.

pyroute2 0.9 runs every request through an asyncio loop and its generic
message classes: about 1-4 ms of Python per request on the host, which a
TCG guest (Python some 35 times slower) turns into most of a topology's
build time. The builder's hot requests (create a veth pair, a bridge or a
VLAN; set a link's name, MTU, MAC, master, state; add an address, a route,
bridge VLANs) are few and fixed, so they are encoded here with ``struct``
and sent on a plain netlink socket, one request and its ACK at a time.

Encoding is pure (functions returning bytes; the unit tests compare them
with pyroute2's encoding of the same request); ``Rtnl`` is the only I/O.
Errors carry the kernel's errno and, with extended ACKs on, its message.
"""

from __future__ import annotations

import errno as errno_names
import os
import socket
import struct
from collections.abc import Iterable

# netlink
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200  # in an error message's header
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK, NETLINK_EXT_ACK = 270, 11
NLA_F_NESTED = 1 << 15

# rtnetlink message types
RTM_NEWLINK, RTM_GETLINK, RTM_SETLINK = 16, 18, 19
RTM_NEWADDR = 20
RTM_NEWROUTE = 24

# links
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_LINKINFO, IFLA_AF_SPEC, IFLA_NET_NS_FD = 18, 26, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_VLAN_ID = 1
IFLA_BR_VLAN_FILTERING = 7
# bridge VLANs (AF_BRIDGE, IFLA_AF_SPEC)
IFLA_BRIDGE_FLAGS, IFLA_BRIDGE_VLAN_INFO = 0, 2
BRIDGE_FLAGS_SELF = 2
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4
BRIDGE_VLAN_INFO_RANGE_BEGIN, BRIDGE_VLAN_INFO_RANGE_END = 0x8, 0x10
# addresses
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD = 0x02
# routes
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NLATTR = struct.Struct("=HH")


class RtnlError(OSError):
    """The kernel refused a request: ``errno`` and, when it sent one, its extended-ACK message."""

    def __init__(self, code: int, message: str = "") -> None:
        text = os.strerror(code) + (f": {message}" if message else "")
        super().__init__(code, text)
        self.kernel_message = message


# --- encoding (pure) ----------------------------------------------------------------------


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute (type, length, payload padded to 4 bytes)."""
    return _pad(_NLATTR.pack(_NLATTR.size + len(payload), kind) + payload)


def attr_u8(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=B", value))


def attr_u16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=H", value))


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def attr_nested(kind: int, *children: bytes) -> bytes:
    """A nested attribute; without NLA_F_NESTED, as iproute2 sends these (rtnetlink accepts both)."""
    return attr(kind, b"".join(children))


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0, family: int = socket.AF_UNSPEC, kind: int = 0) -> bytes:
    return _IFINFOMSG.pack(family, kind, index, flags, change)


def message(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    """A whole netlink message: header (with length and sequence number) and body."""
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, seq, 0) + body


def link_attrs(ifname: str | None = None, mtu: int | None = None, mac: str | None = None,
               master: int | None = None) -> bytes:
    parts = []
    if ifname is not None:
        parts.append(attr_str(IFLA_IFNAME, ifname))
    if mtu is not None:
        parts.append(attr_u32(IFLA_MTU, mtu))
    if mac is not None:
        parts.append(attr(IFLA_ADDRESS, mac_bytes(mac)))
    if master is not None:
        parts.append(attr_u32(IFLA_MASTER, master))
    return b"".join(parts)


def new_veth(index: int, ifname: str, up: bool, peer_index: int, peer_ifname: str, peer_netns_fd: int,
             mtu: int | None = None, mac: str | None = None, peer_mtu: int | None = None,
             peer_mac: str | None = None, master: int | None = None) -> bytes:
    """RTM_NEWLINK body of a veth pair: both ends with their planned index, the peer born in its namespace."""
    peer = ifinfomsg(index=peer_index) + attr_str(IFLA_IFNAME, peer_ifname) + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
    peer += link_attrs(mtu=peer_mtu, mac=peer_mac)
    info = attr_nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "veth"),
                       attr_nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer)))
    flags = IFF_UP if up else 0
    return ifinfomsg(index=index, flags=flags, change=flags) + link_attrs(ifname, mtu, mac, master) + info


def new_bridge(index: int, ifname: str, mtu: int | None = None, mac: str | None = None,
               vlan_filtering: bool = False) -> bytes:
    """RTM_NEWLINK body of a bridge (down: it comes up once its ports are in)."""
    data = [attr_u8(IFLA_BR_VLAN_FILTERING, 1)] if vlan_filtering else []
    kind = [attr_str(IFLA_INFO_KIND, "bridge")]
    if data:
        kind.append(attr_nested(IFLA_INFO_DATA, *data))
    return ifinfomsg(index=index) + link_attrs(ifname, mtu, mac) + attr_nested(IFLA_LINKINFO, *kind)


def new_vlan(index: int, ifname: str, parent: int, vlan_id: int, mtu: int | None = None,
             mac: str | None = None) -> bytes:
    info = attr_nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "vlan"),
                       attr_nested(IFLA_INFO_DATA, attr_u16(IFLA_VLAN_ID, vlan_id)))
    return ifinfomsg(index=index) + link_attrs(ifname, mtu, mac) + attr_u32(IFLA_LINK, parent) + info


def set_link(index: int, ifname: str | None = None, mtu: int | None = None, mac: str | None = None,
             master: int | None = None, up: bool | None = None) -> bytes:
    """RTM_NEWLINK/SETLINK body changing an existing link; ``up`` None leaves its state alone."""
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    return ifinfomsg(index=index, flags=flags, change=change) + link_attrs(ifname, mtu, mac, master)


def bridge_vlans(index: int, first: int, last: int, pvid: bool = False, untagged: bool = False,
                 on_bridge: bool = False) -> bytes:
    """RTM_SETLINK (AF_BRIDGE) body adding VLANs first..last to a bridge port (or the bridge itself)."""
    flags = (BRIDGE_VLAN_INFO_PVID if pvid else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)
    spec = [attr_u16(IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF)] if on_bridge else []
    if first == last:
        spec.append(attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags, first)))
    else:
        spec.append(attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags | BRIDGE_VLAN_INFO_RANGE_BEGIN, first)))
        spec.append(attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags | BRIDGE_VLAN_INFO_RANGE_END, last)))
    return ifinfomsg(index=index, family=socket.AF_BRIDGE) + attr_nested(IFLA_AF_SPEC, *spec)


def new_address(index: int, family: int, address: bytes, prefixlen: int, nodad: bool = False) -> bytes:
    """RTM_NEWADDR body: the address as IFA_LOCAL and IFA_ADDRESS (as ``ip address add`` sends it)."""
    flags = IFA_F_NODAD if nodad else 0
    body = _IFADDRMSG.pack(family, prefixlen, flags, RT_SCOPE_UNIVERSE, index)
    body += attr(IFA_LOCAL, address) + attr(IFA_ADDRESS, address)
    if nodad:
        body += attr_u32(IFA_FLAGS, flags)
    return body


def new_route(family: int, dst: bytes | None, dst_len: int, gateway: bytes | None = None,
              oif: int | None = None, priority: int | None = None, table: int | None = None) -> bytes:
    """RTM_NEWROUTE body of a unicast route: proto static, scope global (what the builder always made)."""
    table = RT_TABLE_MAIN if table is None else table
    body = _RTMSG.pack(family, dst_len, 0, 0, table if table < 256 else 0, RTPROT_STATIC, RT_SCOPE_UNIVERSE,
                       RTN_UNICAST, 0)
    if table >= 256:
        body += attr_u32(RTA_TABLE, table)
    if dst is not None and dst_len:
        body += attr(RTA_DST, dst)
    if gateway is not None:
        body += attr(RTA_GATEWAY, gateway)
    if oif is not None:
        body += attr_u32(RTA_OIF, oif)
    if priority is not None:
        body += attr_u32(RTA_PRIORITY, priority)
    return body


def get_link_by_name(ifname: str) -> bytes:
    return ifinfomsg() + attr_str(IFLA_IFNAME, ifname)


# --- decoding (pure) ----------------------------------------------------------------------


def attributes(data: bytes) -> Iterable[tuple[int, bytes]]:
    """(type without flags, payload) of each attribute in ``data``."""
    offset = 0
    while offset + _NLATTR.size <= len(data):
        length, kind = _NLATTR.unpack_from(data, offset)
        if length < _NLATTR.size:
            return
        yield kind & ~NLA_F_NESTED & 0x7FFF, data[offset + _NLATTR.size: offset + length]
        offset += (length + 3) & ~3


def split_messages(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, seq, body) of each netlink message in one datagram."""
    out = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, msg_type, flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        out.append((msg_type, flags, seq, data[offset + _NLMSGHDR.size: offset + length]))
        offset += (length + 3) & ~3
    return out


def error_of(flags: int, body: bytes) -> tuple[int, str]:
    """(errno, extended-ACK message) of an NLMSG_ERROR body; errno 0 is an ACK."""
    code = -struct.unpack_from("=i", body)[0]
    message = ""
    if flags & NLM_F_ACK_TLVS:
        # The original request follows: its header only when capped, whole otherwise.
        request_len = _NLMSGHDR.size if flags & NLM_F_CAPPED else struct.unpack_from("=I", body, 4)[0]
        for kind, payload in attributes(body[4 + request_len:]):
            if kind == NLMSGERR_ATTR_MSG:
                message = payload.rstrip(b"\0").decode(errors="replace")
    return code, message


def ifindex_of(body: bytes) -> int:
    return _IFINFOMSG.unpack_from(body)[2]


# --- the socket -------------------------------------------------------------------------


class Rtnl:
    """One NETLINK_ROUTE socket (already in its namespace) sending requests one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0
        try:
            sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        except OSError:
            pass  # kernels before 4.12: no extended ACK messages, errno only

    def request(self, msg_type: int, body: bytes, flags: int = 0) -> list[bytes]:
        """Send one request; return the bodies of the messages answering it; RtnlError if refused."""
        self.seq += 1
        seq = self.seq
        self.sock.send(message(msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, body))
        replies: list[bytes] = []
        while True:
            for msg_type_in, msg_flags, msg_seq, msg_body in split_messages(self.sock.recv(65536)):
                if msg_seq != seq:
                    continue  # a late answer to an earlier request
                if msg_type_in == NLMSG_ERROR:
                    code, text = error_of(msg_flags, msg_body)
                    if code:
                        raise RtnlError(code, text)
                    return replies
                if msg_type_in == NLMSG_DONE:
                    return replies
                replies.append(msg_body)

    def create(self, msg_type: int, body: bytes) -> None:
        """A request that must create something new (EEXIST if it exists)."""
        self.request(msg_type, body, NLM_F_CREATE | NLM_F_EXCL)

    def link_index(self, ifname: str) -> int | None:
        """The index of interface ``ifname``, None when there is none."""
        try:
            replies = self.request(RTM_GETLINK, get_link_by_name(ifname))
        except RtnlError as exc:
            if exc.errno == errno_names.ENODEV:
                return None
            raise
        return ifindex_of(replies[0]) if replies else None

    def close(self) -> None:
        self.sock.close()


def ip_bytes(address: str) -> bytes:
    """Packed form of an IPv4 or IPv6 address."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_pton(family, address)

