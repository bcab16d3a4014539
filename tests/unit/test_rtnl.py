"""harness.rtnl encodes what pyroute2 (and iproute2) would send, and reads the kernel's answers (pure)."""

from __future__ import annotations

import socket
import struct

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from harness import rtnl as R


def pyroute2_body(msg) -> bytes:
    msg.encode()
    return bytes(msg.data[16:])  # without the netlink header


def test_a_veth_pair_request_is_byte_for_byte_pyroute2s():
    msg = ifinfmsg()
    msg["index"], msg["flags"], msg["change"] = 5, 1, 1
    peer = {"index": 6, "attrs": [("IFLA_IFNAME", "eth1"), ("IFLA_NET_NS_FD", 9), ("IFLA_MTU", 9000)]}
    msg["attrs"] = [
        ("IFLA_IFNAME", "eth0"), ("IFLA_MTU", 1400), ("IFLA_ADDRESS", "02:00:00:00:00:01"), ("IFLA_MASTER", 3),
        ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "veth"),
                                     ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer)]})]}),
    ]
    ours = R.new_veth(5, "eth0", True, 6, "eth1", 9, mtu=1400, mac="02:00:00:00:00:01", peer_mtu=9000, master=3)
    assert ours == pyroute2_body(msg)


def test_changing_a_link_is_byte_for_byte_pyroute2s():
    msg = ifinfmsg()
    msg["index"], msg["flags"], msg["change"] = 7, 0, 1
    msg["attrs"] = [("IFLA_IFNAME", "np0"), ("IFLA_MTU", 1280)]
    assert R.set_link(7, ifname="np0", mtu=1280, up=False) == pyroute2_body(msg)
    # up=None leaves the state alone: no IFF_UP in the change mask
    assert struct.unpack_from("=BxHiII", R.set_link(7, mtu=1280))[3:] == (0, 0)


def test_an_address_request_is_byte_for_byte_pyroute2s():
    msg = ifaddrmsg()
    msg["family"], msg["prefixlen"], msg["flags"], msg["index"] = socket.AF_INET6, 64, R.IFA_F_NODAD, 4
    address = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    msg["attrs"] = [("IFA_LOCAL", "2001:db8::1"), ("IFA_ADDRESS", "2001:db8::1"), ("IFA_FLAGS", R.IFA_F_NODAD)]
    assert R.new_address(4, socket.AF_INET6, address, 64, nodad=True) == pyroute2_body(msg)


def test_bridge_vlan_ranges_use_begin_and_end_entries():
    body = R.bridge_vlans(3, 10, 20, pvid=False, untagged=True, on_bridge=True)
    spec = dict_of(R.attributes(body[16:]))[R.IFLA_AF_SPEC]
    entries = [(k, v) for k, v in R.attributes(spec)]
    assert entries[0] == (R.IFLA_BRIDGE_FLAGS, struct.pack("=H", R.BRIDGE_FLAGS_SELF))
    assert [struct.unpack("=HH", v) for k, v in entries[1:]] == [
        (R.BRIDGE_VLAN_INFO_UNTAGGED | R.BRIDGE_VLAN_INFO_RANGE_BEGIN, 10),
        (R.BRIDGE_VLAN_INFO_UNTAGGED | R.BRIDGE_VLAN_INFO_RANGE_END, 20),
    ]
    assert body[0] == socket.AF_BRIDGE


def dict_of(pairs):
    return {k: v for k, v in pairs}


def test_routes_carry_a_big_table_as_an_attribute():
    body = R.new_route(socket.AF_INET, socket.inet_aton("10.1.0.0"), 16, gateway=socket.inet_aton("10.0.0.1"),
                       table=1000, priority=5)
    family, dst_len, _src, _tos, table, proto, scope, kind, _flags = struct.unpack_from("=BBBBBBBBI", body)
    assert (family, dst_len, table, proto, scope, kind) == (socket.AF_INET, 16, 0, R.RTPROT_STATIC, 0, R.RTN_UNICAST)
    attrs = dict_of(R.attributes(body[12:]))
    assert attrs[R.RTA_TABLE] == struct.pack("=I", 1000)
    assert attrs[R.RTA_DST] == socket.inet_aton("10.1.0.0") and attrs[R.RTA_PRIORITY] == struct.pack("=I", 5)


def error_message(code: int, request_len: int, text: str | None, capped: bool) -> tuple[int, bytes]:
    request = R.message(R.RTM_NEWLINK, R.NLM_F_REQUEST, 1, b"\0" * (request_len - 16))
    body = struct.pack("=i", -code) + (request[:16] if capped else request)
    flags = R.NLM_F_CAPPED if capped else 0
    if text is not None:
        body += R.attr_str(R.NLMSGERR_ATTR_MSG, text)
        flags |= R.NLM_F_ACK_TLVS
    return flags, body


@pytest.mark.parametrize("capped", [True, False])
def test_errors_carry_the_errno_and_the_extended_ack_message(capped):
    flags, body = error_message(95, 40, "VLAN filtering is disabled", capped)
    assert R.error_of(flags, body) == (95, "VLAN filtering is disabled")
    flags, body = error_message(0, 40, None, capped)
    assert R.error_of(flags, body) == (0, "")  # an ACK


def test_one_datagram_splits_into_its_messages():
    data = R.message(16, 2, 7, b"abcd") + R.message(3, 2, 7, b"\0\0\0\0")
    assert [(t, s) for t, _f, s, _b in R.split_messages(data)] == [(16, 7), (3, 7)]


def test_a_refusal_is_an_oserror_with_the_kernels_words():
    err = R.RtnlError(17, "link exists")
    assert isinstance(err, OSError) and err.errno == 17 and "File exists: link exists" in str(err)
