"""Bridge forwarding database and port flags, from ``bridge -j``.

``bridge -j fdb show br BR`` lists, per entry, the MAC, the port
(``ifname``), ``master`` (the bridge, for entries of the bridge's own FDB;
absent for entries of a port's own hardware/``self`` list), ``flags`` and
``state``: ``permanent`` for the bridge's own (local) addresses, ``static``
for user-added static entries, ``stale`` for a dynamic entry that has not
been refreshed recently, and ``""`` for a dynamic entry in use.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness import rtnl

from .packets import ETH_P_8021AD, ETH_P_8021Q, auxdata_vlan, inet_checksum, inline_vlan  # noqa: F401 (bridge tests use the tag parsers too)

DYNAMIC_STATES = frozenset({"", "reachable", "stale"})


@dataclass(frozen=True)
class FdbEntry:
    mac: str  # lower case
    ifname: str
    master: str | None
    state: str
    flags: tuple[str, ...] = ()
    vlan: int | None = None

    @property
    def learned(self) -> bool:
        """An entry the bridge learned from traffic: in its FDB, dynamic, not
        added by a driver (extern_learn) nor a port's own ``self`` entry."""
        return (
            self.master is not None
            and "self" not in self.flags
            and "extern_learn" not in self.flags
            and self.state in DYNAMIC_STATES
        )

    @property
    def local(self) -> bool:
        """The bridge's own address for this port (``permanent``, in its FDB)."""
        return self.master is not None and "self" not in self.flags and self.state == "permanent"


def parse_fdb(data: Iterable[dict[str, Any]] | None) -> list[FdbEntry]:
    """Entries from parsed ``bridge -j fdb show`` JSON (``None`` means empty)."""
    return [
        FdbEntry(
            mac=e["mac"].lower(),
            ifname=e["ifname"],
            master=e.get("master"),
            state=e.get("state", ""),
            flags=tuple(e.get("flags", ())),
            vlan=e.get("vlan"),
        )
        for e in data or ()
    ]


def fdb(node: Any, bridge: str) -> list[FdbEntry]:
    return parse_fdb(node.json(["bridge", "-j", "fdb", "show", "br", bridge]))


def learned(entries: Iterable[FdbEntry]) -> list[FdbEntry]:
    return [e for e in entries if e.learned]


def learned_ports(entries: Iterable[FdbEntry], mac: str) -> list[str]:
    """Ports on which ``mac`` is a learned entry (normally zero or one)."""
    mac = mac.lower()
    return [e.ifname for e in entries if e.learned and e.mac == mac]


@dataclass(frozen=True)
class BridgePort:
    ifname: str
    master: str | None
    state: str  # STP state: forwarding, blocking, disabled, ...
    learning: bool
    flood: bool
    mcast_flood: bool
    bcast_flood: bool | None  # absent from older iproute2


def parse_bridge_links(data: Iterable[dict[str, Any]] | None) -> dict[str, BridgePort]:
    """Ports from parsed ``bridge -j -d link show`` JSON, by name."""
    ports = {}
    for e in data or ():
        ports[e["ifname"]] = BridgePort(
            ifname=e["ifname"],
            master=e.get("master"),
            state=e.get("state", ""),
            learning=bool(e["learning"]),
            flood=bool(e["flood"]),
            mcast_flood=bool(e["mcast_flood"]),
            bcast_flood=e.get("bcast_flood"),
        )
    return ports


def bridge_port(node: Any, ifname: str) -> BridgePort:
    return parse_bridge_links(node.json(["bridge", "-j", "-d", "link", "show", "dev", ifname]))[ifname]


# --- more of the port, the FDB, VLANs, the MDB and the bridge's own options ----------
#
# Everything here is pure: parsers of ``bridge -j``/``ip -j`` output, builders
# of Ethernet/IP/IGMP frames for packet sockets, and a minimal rtnetlink
# encoder/decoder for the bridge attributes iproute2 6.1 cannot set
# (IFLA_BR_FDB_MAX_LEARNED, IFLA_BRPORT_MAB).

STP_STATES = {"disabled": 0, "listening": 1, "learning": 2, "forwarding": 3, "blocking": 4}


def fdb_flag(entry: FdbEntry, flag: str) -> bool:
    """``offload``, ``extern_learn``, ``sticky``, ``locked``, ``self``... on one entry."""
    return flag in entry.flags


def port_flags(data: Iterable[dict[str, Any]] | None, ifname: str) -> dict[str, Any]:
    """Every key ``bridge -j -d link show`` prints for one port (``isolated``,
    ``locked``, ``mcast_router``...); missing keys mean iproute2 does not know them."""
    for e in data or ():
        if e["ifname"] == ifname:
            return dict(e)
    raise LookupError(f"{ifname} is not a bridge port")


def parse_vlans(data: Iterable[dict[str, Any]] | None, ifname: str) -> dict[int, set[str]]:
    """VID -> flags ('PVID', 'Egress Untagged') of one port from ``bridge -j vlan show``, ranges expanded."""
    out: dict[int, set[str]] = {}
    for entry in data or ():
        if entry.get("ifname") != ifname:
            continue
        for vlan in entry["vlans"]:
            for vid in range(vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"]) + 1):
                out[vid] = set(vlan.get("flags", []))
    return out


@dataclass(frozen=True)
class MdbEntry:
    port: str
    group: str
    state: str  # "temp" (learned or added without permanent) or "permanent"
    vid: int | None = None
    source: str | None = None  # set for (S, G) entries
    flags: tuple[str, ...] = ()
    protocol: str | None = None  # "kernel" (snooped), "static" (user), ...


def parse_mdb(data: Iterable[dict[str, Any]] | None) -> list[MdbEntry]:
    """Entries from ``bridge -j -d mdb show`` (a list of {"mdb": [...], "router": {...}})."""
    out = []
    for block in data or ():
        for e in block.get("mdb", ()):
            out.append(
                MdbEntry(
                    port=e["port"],
                    group=e["grp"],
                    state=e.get("state", ""),
                    vid=e.get("vid"),
                    source=e.get("src"),
                    flags=tuple(e.get("flags", ())),
                    protocol=e.get("protocol"),
                )
            )
    return out


def mdb_ports(entries: Iterable[MdbEntry], group: str, vid: int | None = None, source: str | None = None) -> set[str]:
    """Ports that have an entry for ``group`` (in ``vid``; (``source``, group) when given)."""
    group = str(ipaddress.ip_address(group))
    return {
        e.port
        for e in entries
        if str(ipaddress.ip_address(e.group)) == group and e.vid == vid and e.source == source
    }


def parse_bridge_info(data: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The bridge's own options (``info_data``) from ``ip -d -j link show dev BR``."""
    if not data or len(data) != 1:
        raise ValueError(f"expected exactly one link, got {len(data or [])}")
    info = data[0].get("linkinfo", {})
    if info.get("info_kind") != "bridge":
        raise ValueError(f"{data[0].get('ifname')} is not a bridge (kind {info.get('info_kind')!r})")
    return dict(info.get("info_data", {}))


# --- frames --------------------------------------------------------------------------------

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac_bytes(mac: str) -> bytes:
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"{mac!r} is not a MAC address")
    return bytes(int(p, 16) for p in parts)


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def unique_macs(n: int, tag: int) -> list[str]:
    """``n`` distinct locally administered unicast MACs ``02:4e:TT:00:HH:LL`` (``tag`` 0-255)."""
    if not 0 <= tag <= 255 or not 0 <= n <= 0x10000:
        raise ValueError("tag must be 0-255 and n at most 65536")
    return [f"02:4e:{tag:02x}:00:{i >> 8:02x}:{i & 0xFF:02x}" for i in range(n)]


def multicast_mac(group: str) -> str:
    """The Ethernet group address an IPv4 (01:00:5e) or IPv6 (33:33) group maps to."""
    ip = ipaddress.ip_address(group)
    if not ip.is_multicast:
        raise ValueError(f"{group} is not a multicast address")
    if ip.version == 4:
        low = int(ip) & 0x7FFFFF
        return mac_str(bytes([0x01, 0x00, 0x5E, low >> 16, (low >> 8) & 0xFF, low & 0xFF]))
    return mac_str(b"\x33\x33" + ip.packed[-4:])


def ether(dst: str, src: str, ethertype: int, payload: bytes, vlan: int | None = None, tpid: int = ETH_P_8021Q) -> bytes:
    """An Ethernet frame, with one VLAN tag (``tpid``, ``vlan``) when ``vlan`` is given, padded to 60 bytes."""
    head = mac_bytes(dst) + mac_bytes(src)
    if vlan is not None:
        if not 0 <= vlan <= 4095:
            raise ValueError(f"VLAN id {vlan} out of range")
        head += struct.pack("!HH", tpid, vlan)
    frame = head + struct.pack("!H", ethertype) + payload
    return frame + b"\x00" * max(0, 60 - len(frame))


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64, router_alert: bool = False) -> bytes:
    """An IPv4 packet with a correct header checksum (and the Router Alert option if asked)."""
    options = b"\x94\x04\x00\x00" if router_alert else b""
    ihl = 5 + len(options) // 4
    header = struct.pack(
        "!BBHHHBBH4s4s", (4 << 4) | ihl, 0, 4 * ihl + len(payload), 0, 0, ttl, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    ) + options
    checksum = inet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + payload


def udp4(src: str, dst: str, payload: bytes, sport: int = 4000, dport: int = 9, ttl: int = 64) -> bytes:
    """An IPv4/UDP packet (UDP checksum 0: allowed for IPv4)."""
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, ttl=ttl)


IGMPV3_RECORD_TYPES = {
    "is_in": 1, "is_ex": 2, "to_in": 3, "to_ex": 4, "allow": 5, "block": 6,
}


def igmpv2_report(group: str, leave: bool = False) -> bytes:
    """An IGMPv2 membership report (type 0x16) or leave (0x17) message."""
    body = struct.pack("!BBH4s", 0x17 if leave else 0x16, 0, 0, ipaddress.IPv4Address(group).packed)
    return body[:2] + struct.pack("!H", inet_checksum(body)) + body[4:]


def igmpv3_report(records: Iterable[tuple[str, str, Iterable[str]]]) -> bytes:
    """An IGMPv3 report (type 0x22) of (record type, group, sources) group records;
    record types are the names in IGMPV3_RECORD_TYPES (``is_ex``, ``allow``...)."""
    recs = b""
    count = 0
    for rtype, group, sources in records:
        srcs = [ipaddress.IPv4Address(s).packed for s in sources]
        recs += struct.pack("!BBH4s", IGMPV3_RECORD_TYPES[rtype], 0, len(srcs), ipaddress.IPv4Address(group).packed)
        recs += b"".join(srcs)
        count += 1
    body = struct.pack("!BBHHH", 0x22, 0, 0, 0, count) + recs
    return body[:2] + struct.pack("!H", inet_checksum(body)) + body[4:]


def igmp_frame(src_mac: str, src_ip: str, message: bytes, group: str | None = None, vlan: int | None = None) -> bytes:
    """An IGMP message in an IPv4 packet (TTL 1, Router Alert) in an Ethernet frame.

    IGMPv3 reports go to 224.0.0.22; v2 reports and leaves to ``group``
    (leaves to 224.0.0.2 as RFC 2236 says when ``group`` is None)."""
    if message[0] == 0x22:
        dst = "224.0.0.22"
    elif message[0] == 0x17:
        dst = "224.0.0.2"
    else:
        dst = group or str(ipaddress.IPv4Address(message[4:8]))
    packet = ipv4(src_ip, dst, 2, message, ttl=1, router_alert=True)
    return ether(multicast_mac(dst), src_mac, ETH_P_IP, packet, vlan=vlan)


def udp4_frame(dst_mac: str, src_mac: str, src_ip: str, dst_ip: str, payload: bytes, vlan: int | None = None,
               tpid: int = ETH_P_8021Q) -> bytes:
    return ether(dst_mac, src_mac, ETH_P_IP, udp4(src_ip, dst_ip, payload), vlan=vlan, tpid=tpid)


# --- packet socket auxiliary data ------------------------------------------------------

# --- rtnetlink: the bridge attributes iproute2 6.1 cannot set -----------------------------

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_SETLINK = 19
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLA_F_NESTED = 0x8000
AF_UNSPEC = 0
AF_BRIDGE = 7
IFLA_PROTINFO = 12
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_BR_FDB_N_LEARNED = 48  # u32, read-only (Linux 6.7+)
IFLA_BR_FDB_MAX_LEARNED = 49  # u32, 0 = no limit (Linux 6.7+)
IFLA_BRPORT_LOCKED = 39
IFLA_BRPORT_MAB = 40  # u8 (Linux 6.2+)
IFLA_BRPORT_MCAST_N_GROUPS = 41  # u32, read-only (Linux 6.3+)
IFLA_BRPORT_MCAST_MAX_GROUPS = 42  # u32, 0 = no limit (Linux 6.3+)

_IFINFOMSG_SIZE = 16

# The encoding primitives are the topology builder's (harness.rtnl).
nlattr = rtnl.attr
nlmsg = rtnl.message


def parse_nlattrs(buf: bytes) -> dict[int, bytes]:
    """type -> payload of a run of netlink attributes (NLA_F_NESTED stripped)."""
    return dict(rtnl.attributes(buf))


def ifinfomsg(index: int, family: int = AF_UNSPEC) -> bytes:
    return rtnl.ifinfomsg(index=index, family=family)


def set_bridge_u32(index: int, attr: int, value: int, seq: int = 1) -> bytes:
    """RTM_NEWLINK setting one u32 bridge option (IFLA_BR_*) of bridge ``index``."""
    data = nlattr(attr, struct.pack("=I", value))
    linkinfo = nlattr(IFLA_INFO_KIND, b"bridge\x00") + nlattr(IFLA_INFO_DATA | NLA_F_NESTED, data)
    body = ifinfomsg(index) + nlattr(IFLA_LINKINFO | NLA_F_NESTED, linkinfo)
    return nlmsg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def set_port_u8(index: int, attr: int, value: int, seq: int = 1) -> bytes:
    """RTM_SETLINK (AF_BRIDGE) setting one u8 port option (IFLA_BRPORT_*) of port ``index``."""
    protinfo = nlattr(attr, struct.pack("=B", value))
    body = ifinfomsg(index, AF_BRIDGE) + nlattr(IFLA_PROTINFO | NLA_F_NESTED, protinfo)
    return nlmsg(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def set_port_u32(index: int, attr: int, value: int, seq: int = 1) -> bytes:
    """As ``set_port_u8`` for a u32 port option (IFLA_BRPORT_MCAST_MAX_GROUPS)."""
    protinfo = nlattr(attr, struct.pack("=I", value))
    body = ifinfomsg(index, AF_BRIDGE) + nlattr(IFLA_PROTINFO | NLA_F_NESTED, protinfo)
    return nlmsg(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def get_link(index: int, seq: int = 1, family: int = AF_UNSPEC) -> bytes:
    return nlmsg(RTM_GETLINK, NLM_F_REQUEST, seq, ifinfomsg(index, family))


@dataclass(frozen=True)
class NetlinkReply:
    kind: int
    error: int  # 0 (ACK or data), or a negative errno
    message: str  # the kernel's extended ACK text, "" if none
    payload: bytes  # after the nlmsghdr


def parse_replies(buf: bytes) -> list[NetlinkReply]:
    """The messages in one netlink datagram; errors carry errno and extack text."""
    out = []
    for kind, flags, _seq, payload in rtnl.split_messages(buf):
        error, message = 0, ""
        if kind == NLMSG_ERROR:
            code, message = rtnl.error_of(flags, payload)
            error = -code
        out.append(NetlinkReply(kind, error, message, payload))
    return out


def bridge_data(link_payload: bytes) -> dict[int, bytes]:
    """IFLA_BR_* attributes of an RTM_NEWLINK reply's payload (ifinfomsg + attributes)."""
    attrs = parse_nlattrs(link_payload[_IFINFOMSG_SIZE:])
    linkinfo = parse_nlattrs(attrs.get(IFLA_LINKINFO, b""))
    return parse_nlattrs(linkinfo.get(IFLA_INFO_DATA, b""))


def u32(payload: bytes) -> int:
    return struct.unpack_from("=I", payload)[0]


# --- FDB dump over rtnetlink: the NTF_EXT_LOCKED flag iproute2 6.1 does not print --------

RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30
NLMSG_DONE = 3
NLM_F_DUMP = 0x300
NDA_LLADDR = 2
NDA_VLAN = 5
NDA_MASTER = 9
NDA_FLAGS_EXT = 15
NTF_EXT_LOCKED = 1 << 1
_NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type


def fdb_dump_request(seq: int = 1) -> bytes:
    """RTM_GETNEIGH dump of every bridge FDB entry (family AF_BRIDGE)."""
    return nlmsg(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, _NDMSG.pack(AF_BRIDGE, 0, 0, 0, 0))


@dataclass(frozen=True)
class NeighFdb:
    ifindex: int
    mac: str
    vlan: int | None
    master: int | None
    flags_ext: int

    @property
    def locked(self) -> bool:
        return bool(self.flags_ext & NTF_EXT_LOCKED)


def parse_neigh(payload: bytes) -> NeighFdb:
    """One RTM_NEWNEIGH payload (ndmsg + attributes)."""
    _family, ifindex, _state, _flags, _type = _NDMSG.unpack_from(payload)
    attrs = parse_nlattrs(payload[_NDMSG.size :])
    vlan = struct.unpack_from("=H", attrs[NDA_VLAN])[0] if NDA_VLAN in attrs else None
    master = u32(attrs[NDA_MASTER]) if NDA_MASTER in attrs else None
    flags_ext = u32(attrs[NDA_FLAGS_EXT]) if NDA_FLAGS_EXT in attrs else 0
    return NeighFdb(ifindex, mac_str(attrs.get(NDA_LLADDR, b"\x00" * 6)[:6]), vlan, master, flags_ext)


# --- IPv6 and MLD frames ----------------------------------------------------------------

MLD2_ALL_ROUTERS = "ff02::16"


def _pseudo6(src: str, dst: str, next_header: int, length: int) -> bytes:
    return (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
            + struct.pack("!IxxxB", length, next_header))


def ipv6(src: str, dst: str, next_header: int, payload: bytes, hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, hop_limit,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed) + payload


def mldv2_report(src: str, records: Iterable[tuple[str, str, Iterable[str]]], dst: str = MLD2_ALL_ROUTERS) -> bytes:
    """An IPv6 packet (hop limit 1, hop-by-hop Router Alert) carrying an MLDv2
    report (ICMPv6 143) of (record type, group, sources) records; record types
    as for IGMPv3 (``is_ex``, ``allow``, ``block``...)."""
    recs, count = b"", 0
    for rtype, group, sources in records:
        srcs = [ipaddress.IPv6Address(s).packed for s in sources]
        recs += struct.pack("!BBH16s", IGMPV3_RECORD_TYPES[rtype], 0, len(srcs), ipaddress.IPv6Address(group).packed)
        recs += b"".join(srcs)
        count += 1
    icmp = struct.pack("!BBHHH", 143, 0, 0, 0, count) + recs
    checksum = inet_checksum(_pseudo6(src, dst, 58, len(icmp)) + icmp)
    icmp = icmp[:2] + struct.pack("!H", checksum) + icmp[4:]
    hbh = bytes([58, 0, 5, 2, 0, 0, 1, 0])  # next ICMPv6; Router Alert (MLD); PadN
    return ipv6(src, dst, 0, hbh + icmp, hop_limit=1)


def udp6(src: str, dst: str, payload: bytes, sport: int = 4000, dport: int = 9) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    checksum = inet_checksum(_pseudo6(src, dst, 17, len(udp)) + udp) or 0xFFFF
    return ipv6(src, dst, 17, udp[:6] + struct.pack("!H", checksum) + udp[8:])


def mld_frame(src_mac: str, src_ip: str, records, vlan: int | None = None) -> bytes:
    return ether(multicast_mac(MLD2_ALL_ROUTERS), src_mac, ETH_P_IPV6, mldv2_report(src_ip, records), vlan=vlan)


def mcast_data_frame(src_mac: str, src_ip: str, group: str, payload: bytes, vlan: int | None = None) -> bytes:
    """A UDP datagram to multicast ``group`` (IPv4 or IPv6) as an Ethernet frame."""
    if ipaddress.ip_address(group).version == 4:
        return ether(multicast_mac(group), src_mac, ETH_P_IP, udp4(src_ip, group, payload, ttl=2), vlan=vlan)
    return ether(multicast_mac(group), src_mac, ETH_P_IPV6, udp6(src_ip, group, payload), vlan=vlan)


# IFLA_BR_* attributes by the names ``ip -d -j link show`` gives them (struct format, attribute).
BRIDGE_ATTRS: dict[str, tuple[int, str]] = {
    "forward_delay": (1, "I"), "hello_time": (2, "I"), "ageing_time": (4, "I"), "stp_state": (5, "I"),
    "vlan_filtering": (7, "B"), "mcast_snooping": (23, "B"), "mcast_querier": (25, "B"),
    "vlan_default_pvid": (39, "H"), "mcast_igmp_version": (43, "B"), "mcast_mld_version": (44, "B"),
    "fdb_n_learned": (IFLA_BR_FDB_N_LEARNED, "I"), "fdb_max_learned": (IFLA_BR_FDB_MAX_LEARNED, "I"),
}
IFLA_BR_MULTI_BOOLOPT = 46  # struct br_boolopt_multi {u32 optval, optmask}
BR_BOOLOPT_MCAST_VLAN_SNOOPING = 1


def parse_bridge_attrs(data: dict[int, bytes]) -> dict[str, int]:
    """The bridge options of ``bridge_data`` by name; absent attributes are left out
    (values as the kernel reports them: times in centiseconds, like iproute2 prints)."""
    out = {}
    for name, (attr, fmt) in BRIDGE_ATTRS.items():
        if attr in data:
            out[name] = struct.unpack_from("=" + fmt, data[attr])[0]
    if IFLA_BR_MULTI_BOOLOPT in data:
        optval, _mask = struct.unpack_from("=II", data[IFLA_BR_MULTI_BOOLOPT])
        out["mcast_vlan_snooping"] = int(bool(optval & (1 << BR_BOOLOPT_MCAST_VLAN_SNOOPING)))
    return out
