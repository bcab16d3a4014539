"""Tests for the MPTCP helpers (suitelib/mptcp.py, mptcp_sockopt.py,
mptcp_upm.py) on output captured from a 6.18 kernel with iproute2 6.1 by
tests/unit/data/mptcp/capture.py: a two-path connection with a signalled
backup address (so three subflows), its MPTCP_INFO / MPTCP_SUBFLOW_ADDRS /
MPTCP_TCPINFO answers and the mptcp_pm events the client's namespace saw.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from suitelib import mptcp
from suitelib import mptcp_sockopt as so
from suitelib.mptcp_upm import addr_attrs, decode_events

DATA = Path(__file__).parent / "data" / "mptcp"


def test_parse_endpoints_flags_ids_and_dev():
    eps = mptcp.parse_endpoints(json.loads((DATA / "ip_mptcp_endpoint_show.json").read_text()))
    assert eps == [mptcp.Endpoint(id=9, address="10.0.2.2", flags=frozenset({"signal", "backup"}))]


def test_parse_endpoints_sorted_by_id_with_dev_and_port():
    data = [{"address": "10.0.1.3", "id": 3, "signal": True, "port": 10100},
            {"address": "10.0.1.2", "id": 2, "subflow": True, "fullmesh": True, "dev": "lo"}]
    eps = mptcp.parse_endpoints(data)
    assert [(e.id, e.dev, e.port, sorted(e.flags)) for e in eps] == [
        (2, "lo", None, ["fullmesh", "subflow"]), (3, None, 10100, ["signal"])]


@pytest.mark.parametrize("empty", [None, []])
def test_parse_endpoints_empty(empty):
    assert mptcp.parse_endpoints(empty) == []


def test_parse_limits():
    assert mptcp.parse_limits((DATA / "ip_mptcp_limits_show.txt").read_text()) == {
        "add_addr_accepted": 2, "subflows": 2}
    with pytest.raises(ValueError):
        mptcp.parse_limits("subflows")


def test_mptcp_info_fields():
    info = so.parse_mptcp_info((DATA / "mptcp_info.bin").read_bytes())
    assert info["subflows"] == 2 and info["subflows_total"] == 3
    assert info["subflows_max"] == 2 and info["add_addr_accepted"] == 1 and info["add_addr_accepted_max"] == 2
    assert info["flags"] == so.INFO_FLAG_REMOTE_KEY_RECEIVED
    assert (info["bytes_sent"], info["bytes_received"], info["bytes_acked"]) == (100, 50, 100)
    assert info["write_seq"] == info["snd_una"]  # everything sent was acked
    assert info["token"] == 0xED2EAC77  # the token ss showed for this connection


def test_mptcp_info_prefix_from_an_older_kernel():
    info = so.parse_mptcp_info((DATA / "mptcp_info.bin").read_bytes()[:40])
    assert "rcv_nxt" in info and "bytes_sent" not in info and "local_addr_used" not in info


def test_subflow_addrs():
    data = so.parse_subflow_data((DATA / "subflow_addrs.bin").read_bytes())
    assert data.num_subflows == 3 and data.size_kernel == so.SUBFLOW_ADDRS_SIZE and len(data.elements) == 3
    pairs = sorted(so.parse_subflow_addrs(e) for e in data.elements)
    assert pairs == [(("10.0.1.1", 35796), ("10.0.1.2", 5300)), (("10.0.2.1", 49393), ("10.0.2.2", 5300)),
                     (("10.0.2.1", 49643), ("10.0.1.2", 5300))]


def test_subflow_data_stores_only_what_fits():
    raw = (DATA / "subflow_addrs.bin").read_bytes()
    data = so.parse_subflow_data(raw[: 16 + so.SUBFLOW_ADDRS_SIZE])
    assert data.num_subflows == 3 and len(data.elements) == 1


def test_subflow_data_rejects_a_bad_header():
    with pytest.raises(ValueError):
        so.parse_subflow_data(struct.pack("=IIII", 8, 1, 0, 0))


def test_tcpinfo_bytes_per_subflow():
    data = so.parse_subflow_data((DATA / "tcpinfo.bin").read_bytes())
    got = sorted(so.parse_tcpinfo_bytes(e) for e in data.elements)
    # the initial subflow carried the 100/50 bytes, each join only its handshake
    assert data.num_subflows == 3 and got == [(1, 0), (1, 0), (101, 50)]


def test_subflow_request_header():
    req = so.subflow_request(2, 256)
    assert len(req) == 16 + 512 and struct.unpack_from("=IIII", req) == (16, 0, 0, 256)


def test_sockaddr_ipv6():
    raw = struct.pack("=H", 10) + struct.pack("!H", 443) + b"\0" * 4 + bytes.fromhex("20010db8" + "00" * 11 + "01")
    assert so.parse_sockaddr(raw) == ("2001:db8::1", 443)
    with pytest.raises(ValueError):
        so.parse_sockaddr(b"\x07\x00" + b"\0" * 14)


def test_decode_events():
    prid = int((DATA / "events_prid.txt").read_text())
    events = decode_events((DATA / "events.bin").read_bytes(), prid)
    names = [e["event"] for e in events]
    assert names[:2] == ["CREATED", "ESTABLISHED"], names
    assert "ANNOUNCED" in names and names.count("SUB_ESTABLISHED") == 2, names
    est = events[1]
    assert est["token"] == 0xED2EAC77 and est["saddr4"] == "10.0.1.1" and est["daddr4"] == "10.0.1.2"
    assert est["dport"] == 5300  # network order on the wire, decoded
    ann = next(e for e in events if e["event"] == "ANNOUNCED")
    assert ann["daddr4"] == "10.0.2.2" and ann["rem_id"] == 9
    assert decode_events((DATA / "events.bin").read_bytes(), prid + 1) == []  # other families ignored


def test_addr_attrs():
    assert addr_attrs("10.0.2.2", id=5, flags=1) == {"attrs": [
        ["MPTCP_PM_ADDR_ATTR_FAMILY", 2], ["MPTCP_PM_ADDR_ATTR_ADDR4", "10.0.2.2"],
        ["MPTCP_PM_ADDR_ATTR_ID", 5], ["MPTCP_PM_ADDR_ATTR_FLAGS", 1]]}
    assert addr_attrs("2001:db8::1", port=80)["attrs"][1] == ["MPTCP_PM_ADDR_ATTR_ADDR6", "2001:db8::1"]
