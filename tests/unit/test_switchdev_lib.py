"""Tests for suitelib/switchdev.py on output captured in tests/unit/data/switchdev/.

The JSON samples come from iproute2 6.1 in the 6.12 test kernel against
netdevsim device 4000 (topology switchdev-nsim: swp1 192.0.2.1/24, swp2
198.51.100.1/24, veth v1 203.0.113.1/24). Netlink messages are built
here from the uapi layout (struct nlmsghdr, struct rtmsg, rtattr).
No root, no kernel objects.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest

from suitelib import devlink as dl
from suitelib import switchdev as sd

DATA = Path(__file__).parent / "data" / "switchdev"


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def doc(name: str):
    return sd.loads(text(name))


# --- routes ------------------------------------------------------------------------


def test_route_flags_and_states_on_a_table_dump():
    routes = doc("route4_table_all.json")
    first = sd.one_route(routes, "10.1.0.0/24", metric=1024)
    second = sd.one_route(routes, "10.1.0.0/24", metric=1025)
    assert sd.route_flags(first) == {"rt_trap"} and sd.route_in_hw(first)
    assert sd.route_state(first) == "in_hw" and sd.route_state(second) == "none"
    assert second["gateway"] == "198.51.100.2"


def test_select_routes_defaults_and_tables():
    routes = doc("route4_table_all.json")
    # Without a table selector every table matches; iproute2 omits "main".
    assert [sd.route_table(r) for r in sd.select_routes(routes, "10.2.0.0/24")] == ["100"]
    assert sd.select_routes(routes, "10.2.0.0/24", table="main") == []
    assert len(sd.select_routes(routes, "192.0.2.1", table="local")) == 1
    assert len(sd.select_routes(routes, "192.0.2.0/24", dev="swp1", metric=0)) == 1  # metric 0 omitted
    assert sd.select_routes(routes, "192.0.2.0/24", dev="swp2") == []
    with pytest.raises(ValueError, match="2 routes match"):
        sd.one_route(routes, "10.1.0.0/24")


def test_offload_failed_routes():
    for name in ("route4_offload_failed.json", "route6_offload_failed.json"):
        (route,) = doc(name)
        assert sd.route_state(route) == "offload_failed" and not sd.route_in_hw(route), name


def test_ipv6_multipath_route_devices_and_appended_siblings():
    routes = doc("route6_table_all.json")
    mp = sd.one_route(routes, "2001:db8:10::/64", metric=1024)
    assert sd.route_devs(mp) == ("swp1", "swp2") and sd.route_in_hw(mp)
    assert sd.select_routes(routes, "2001:db8:10::/64", dev="swp2") == [mp]
    # fe80::/64 exists on three devices; only the first of the node is in hardware.
    states = [sd.route_state(r) for r in sd.select_routes(routes, "fe80::/64")]
    assert states == ["in_hw", "none", "none"]


def test_tos_is_hex_and_omitted_when_zero():
    (route,) = doc("route4_tos_table200.json")
    assert sd.route_tos(route) == 8
    assert sd.route_tos({"dst": "10.0.0.0/8"}) == 0
    assert sd.select_routes([route], "10.1.0.0/24", tos=8) == [route]  # shown from one table: no "table" key
    assert sd.select_routes([route], "10.1.0.0/24", tos=0) == []


def test_parse_selector():
    assert sd.parse_selector(("10.1.0.0/24", "dev", "swp1", "metric", "1024", "tos", "8")) == {
        "dst": "10.1.0.0/24", "table": "main", "dev": "swp1", "metric": 1024, "tos": 8,
    }
    assert sd.parse_selector(("10.1.0.0/24", "via", "192.0.2.3", "table", "100")) == {
        "dst": "10.1.0.0/24", "table": "100", "gateway": "192.0.2.3",
    }
    with pytest.raises(ValueError, match="unknown key 'proto'"):
        sd.parse_selector(("10.1.0.0/24", "proto", "static"))
    with pytest.raises(ValueError, match="pair up"):
        sd.parse_selector(("10.1.0.0/24", "dev"))
    with pytest.raises(ValueError):
        sd.parse_selector(())


def test_empty_answer_is_no_routes():
    assert sd.loads("") == [] and sd.loads("[]\n") == []


# --- nexthops -------------------------------------------------------------------


def test_nexthops_groups_and_resilient_args():
    nhs = sd.nexthops(doc("nexthop_show.json"))
    assert set(nhs) == {1, 2, 10, 11}
    assert all(sd.nexthop_in_hw(nh) for nh in nhs.values())
    assert nhs[1]["gateway"] == "192.0.2.2" and sd.group_members(nhs[1]) == []
    assert sd.group_members(nhs[10]) == [(1, 20), (2, 39)]
    assert sd.group_members(nhs[11]) == [(1, 1), (2, 1)]  # weight 1 omitted
    assert sd.resilient_args(nhs[11]) == {"buckets": 4, "idle_timer": 120, "unbalanced_timer": 0, "unbalanced_time": 0}
    assert sd.resilient_args(nhs[10]) == {}
    assert not sd.nexthop_in_hw({"id": 3, "flags": []})


def test_buckets():
    buckets = doc("nexthop_bucket_show.json")
    assert sd.bucket_nhids(buckets) == {1: 2, 2: 2}
    assert sd.bucket_indexes(buckets, nhid=1) == [2, 3]
    assert sd.bucket_indexes(doc("nexthop_bucket_show_nhid1.json")) == [2, 3]
    unflagged = [dict(b, flags=[]) for b in buckets]
    assert sd.bucket_nhids(unflagged) == {} and sd.bucket_nhids(unflagged, in_hw_only=False) == {1: 2, 2: 2}


def test_nexthop_occupancy_from_devlink_resources():
    res = dl.resources(dl.loads(text("resource_show.json")), "netdevsim/netdevsim4000")
    # 2 nexthops + group 1,20/2,39 (59) + resilient group of 4 buckets.
    assert res["nexthops"]["occ"] == 2 + 59 + 4
    assert res["IPv4/fib"]["occ"] == 15 and res["IPv6/fib-rules"]["occ"] == 2


# --- L3 hw stats ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("hw_stats_info_off.json", (False, False)),
        ("hw_stats_info_on.json", (True, True)),
        ("hw_stats_info_requested_unused.json", (True, False)),
        ("l3_stats.json", (True, True)),
    ],
)
def test_l3_info(name, expected):
    info = sd.l3_info(doc(name))
    assert (info.request, info.used) == expected


def test_l3_counters():
    counters = sd.l3_counters(doc("l3_stats.json"))
    assert counters["rx_packets"] == 25 and counters["tx_packets"] == 50 and counters["rx_bytes"] == 2500
    # The whole offload group: l3_stats found among the subgroups.
    assert sd.l3_counters(doc("offload_group.json"))["rx_packets"] == 30
    assert sd.l3_info(doc("offload_group.json")).used
    assert sd.l3_counters([{"subgroup": "l3_stats", "info": {"request": False, "used": False}}]) is None
    with pytest.raises(ValueError, match="no l3_stats"):
        sd.l3_counters(doc("hw_stats_info_on.json"))
    with pytest.raises(ValueError, match="no l3_stats info"):
        sd.l3_info([{"subgroup": "cpu_hit"}])


# --- error text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("stderr_l3_stats_fail.txt", "netdevsim: Stats enablement set to fail"),
        ("stderr_nexthops_exceeded.txt", "netdevsim: Exceeded number of supported nexthops"),
        ("stderr_invalid_nexthop_id.txt", "Invalid nexthop id"),
        ("stderr_route_delete_fail.txt", None),  # a warning, not an error
    ],
)
def test_extack(name, message):
    assert sd.extack(text(name)) == message


# --- netlink notifications --------------------------------------------------------


def rtm(kind: int, family: int, dst: str, *, table: int = 254, flags: int = 0, metric: int | None = None,
        oif: int | None = None) -> bytes:
    net = ipaddress.ip_network(dst)
    attrs = b""

    def attr(t: int, payload: bytes) -> bytes:
        raw = struct.pack("=HH", 4 + len(payload), t) + payload
        return raw + b"\0" * (-len(raw) % 4)

    attrs += attr(sd.RTA_TABLE, struct.pack("=I", table))
    if net.prefixlen:
        attrs += attr(sd.RTA_DST, net.network_address.packed)
    if metric is not None:
        attrs += attr(sd.RTA_PRIORITY, struct.pack("=I", metric))
    if oif is not None:
        attrs += attr(sd.RTA_OIF, struct.pack("=i", oif))
    body = struct.pack("=BBBBBBBBI", family, net.prefixlen, 0, 0, min(table, 255), 4, 0, 1, flags) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_route_events():
    datagram = (
        rtm(sd.RTM_NEWROUTE, 2, "10.5.0.0/24", oif=9)
        + rtm(sd.RTM_NEWROUTE, 2, "10.5.0.0/24", flags=sd.RTM_F_TRAP, oif=9)
        + struct.pack("=IHHII", 20, sd.NLMSG_DONE, 0, 0, 0) + b"\0" * 4
    )
    failed = rtm(sd.RTM_NEWROUTE, 10, "2001:db8:1005::/64", flags=sd.RTM_F_OFFLOAD_FAILED, metric=1024, table=1000)
    gone = rtm(sd.RTM_DELROUTE, 10, "::/0")
    events = sd.route_events([datagram, failed, gone])
    assert [(e.kind, e.dst, e.in_hw, e.offload_failed) for e in events] == [
        ("new", "10.5.0.0/24", False, False),
        ("new", "10.5.0.0/24", True, False),
        ("new", "2001:db8:1005::/64", False, True),
        ("del", "::/0", False, False),
    ]
    assert events[0].oif == 9 and events[0].table == 254 and events[0].metric is None
    assert events[2].table == 1000 and events[2].metric == 1024  # RTA_TABLE beats the u8 rtm_table
    assert events[1].trap and not events[1].offload
    assert sd.route_events([rtm(sd.RTM_NEWROUTE, 2, "10.0.0.0/8", flags=sd.RTM_F_OFFLOAD)])[0].in_hw


def test_message_types_and_truncated_input():
    data = rtm(sd.RTM_NEWROUTE, 2, "10.5.0.0/24") + struct.pack("=IHHII", 16, 92, 0, 0, 0)
    assert sd.message_types([data]) == [sd.RTM_NEWROUTE, 92]
    assert sd.route_events([data[:10]]) == []  # shorter than a header
    assert sd.message_types([struct.pack("=IHHII", 4, 24, 0, 0, 0)]) == []  # bogus length stops parsing


def test_route_events_captured_in_the_vm():
    """Real datagrams: fib_notify_on_flag_change=1, 10.5.0.0/24 and 2001:db8:1005::/64
    added on swp1 (ifindex 9), link-local routes finishing DAD meanwhile, 10.5.0.0/24 deleted."""
    datagrams = [bytes.fromhex(h) for h in doc("netlink_route_events.json")]
    events = sd.route_events(datagrams)
    assert sd.message_types(datagrams) == [sd.RTM_NEWROUTE] * 10 + [sd.RTM_DELROUTE]
    v4 = [(e.kind, e.trap, e.oif, e.metric) for e in events if e.dst == "10.5.0.0/24"]
    # Added, then re-announced with RTM_F_TRAP; the deletion carries the last flags.
    assert v4 == [("new", False, 9, None), ("new", True, 9, None), ("del", True, 9, None)]
    v6 = [(e.kind, e.in_hw, e.table, e.metric) for e in events if e.dst == "2001:db8:1005::/64"]
    assert v6 == [("new", False, 254, 1024), ("new", True, 254, 1024)]
    local = [e for e in events if e.dst.startswith("fe80::")]
    assert len(local) == 6 and {e.table for e in local} == {255} and all(e.dst.endswith("/128") for e in local)
    assert not any(e.offload or e.offload_failed for e in events)
