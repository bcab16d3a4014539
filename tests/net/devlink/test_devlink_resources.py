"""devlink resources on netdevsim: the FIB accounting tree, its occupancy,
and a size limit applied by reload that makes the FIB refuse routes.

netdevsim offloads the FIB of the namespace its devlink instance lives in
and accounts every IPv4/IPv6 route and FIB rule against the resources
IPv4/fib, IPv4/fib-rules, IPv6/fib, IPv6/fib-rules and nexthops
(drivers/net/netdevsim/fib.c). A new size is staged by ``resource set`` and
takes effect on reload; beyond it the FIB notifier refuses the route with
the extack "Exceeded number of supported fib entries". The refusal travels
as NOTIFY_BAD, which the FIB turns into EPERM (not ENOSPC as the resource
accounting itself returns).

Topology devlink-2ns: the routes hang off the veth v0 (192.0.2.1/24 in dut,
.2 in peer) because reload re-creates netdevsim's own ports without their
addresses.

Reference: devlink.sh resource_test.
"""

from __future__ import annotations

import errno
import time

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-2ns")

UNLIMITED = str(dl.U64_MAX)  # `resource set ... size` takes a u64; all ones means no limit
EXCEEDED = "Error: netdevsim: Exceeded number of supported fib entries."


def ipv4_routes(node) -> int:
    return len(node.json(["ip", "-4", "-j", "route", "show", "table", "all"]))


def route_add(node, prefix: str, via: str, check: bool = True):
    return node.run(["ip", "route", "add", prefix, "via", via], check=check)


def wait_ipv6_settled(node, ifname: str, timeout: float = 60.0) -> None:
    """Wait until ``ifname`` has a link-local address that finished DAD.

    IPv6 inserts the local route of an address when DAD completes, so until
    then the IPv6 FIB (and netdevsim's IPv6/fib occupancy) still grows.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        addrs = [a for entry in node.json(["ip", "-6", "-j", "addr", "show", "dev", ifname]) for a in entry["addr_info"]]
        if any(a.get("scope") == "link" for a in addrs) and not any(a.get("tentative") for a in addrs):
            return
        time.sleep(0.2)
    raise AssertionError(f"{ifname} in {node.name}: IPv6 addresses still tentative after {timeout} s: {addrs}")


def test_resource_tree_units_and_occupancy(nsim, topo):
    wait_ipv6_settled(topo["dut"], "v0")
    res = nsim.resources()
    assert set(res) == {"IPv4", "IPv4/fib", "IPv4/fib-rules", "IPv6", "IPv6/fib", "IPv6/fib-rules", "nexthops"}
    for path, attrs in res.items():
        assert attrs["unit"] == "entry", path
        assert dl.size_value(attrs["size"]) is None, f"{path} should start unlimited: {attrs}"
        assert attrs["size_min"] == 0 and attrs["size_gran"] == 1
    dut = topo["dut"]
    # Occupancy is the namespace's FIB: every IPv4 route in every table, the
    # default rules (local, main, default for IPv4; local, main for IPv6).
    assert res["IPv4/fib"]["occ"] == ipv4_routes(dut)
    assert res["IPv4/fib-rules"]["occ"] == len(dut.json(["ip", "-4", "-j", "rule", "show"]))
    assert res["IPv6/fib-rules"]["occ"] == len(dut.json(["ip", "-6", "-j", "rule", "show"]))
    assert res["nexthops"]["occ"] == 0

    route_add(dut, "198.51.100.0/24", "192.0.2.2")
    dut.run(["ip", "-6", "route", "add", "2001:db8:1::/64", "dev", "v0"])
    dut.run(["ip", "nexthop", "add", "id", "10", "via", "192.0.2.2", "dev", "v0"])
    after = nsim.resources()
    assert after["IPv4/fib"]["occ"] == res["IPv4/fib"]["occ"] + 1
    assert after["IPv6/fib"]["occ"] == res["IPv6/fib"]["occ"] + 1
    assert after["nexthops"]["occ"] == 1


def test_fib_size_limit_applies_on_reload_and_refuses_routes_beyond_it(nsim, topo):
    dut = topo["dut"]
    occ = nsim.resources()["IPv4/fib"]["occ"]
    limit = occ + 1  # room for exactly one more route
    nsim.run("resource", "set", nsim.handle, "path", "IPv4/fib", "size", str(limit))
    staged = nsim.resources()["IPv4/fib"]
    assert staged["size_new"] == limit and dl.size_value(staged["size"]) is None  # staged, not applied

    nsim.reload()
    assert nsim.resources()["IPv4/fib"]["size"] == limit
    route_add(dut, "198.51.100.0/24", "192.0.2.2")
    proc = route_add(dut, "203.0.113.0/24", "192.0.2.2", check=False)
    assert proc.returncode != 0 and EXCEEDED in proc.stderr, proc.stderr
    with pytest.raises(NetlinkError) as exc:
        dut.ipr.route("add", dst="203.0.113.0/24", gateway="192.0.2.2")
    assert exc.value.code == errno.EPERM
    assert "203.0.113.0/24" not in {r["dst"] for r in dut.json(["ip", "-4", "-j", "route", "show"])}
    assert nsim.resources()["IPv4/fib"]["occ"] == limit

    # Back to unlimited: after the next reload the route fits.
    nsim.run("resource", "set", nsim.handle, "path", "IPv4/fib", "size", UNLIMITED)
    nsim.reload()
    assert dl.size_value(nsim.resources()["IPv4/fib"]["size"]) is None
    route_add(dut, "203.0.113.0/24", "192.0.2.2")


def test_reload_into_a_namespace_whose_fib_exceeds_the_limit_fails(nsim, topo):
    dut, peer = topo["dut"], topo["peer"]
    limit = nsim.resources()["IPv4/fib"]["occ"] + 1
    nsim.run("resource", "set", nsim.handle, "path", "IPv4/fib", "size", str(limit))
    nsim.reload()
    # peer has the same addresses as dut plus two routes: one over the limit.
    route_add(peer, "198.51.100.0/24", "192.0.2.1")
    route_add(peer, "203.0.113.0/24", "192.0.2.1")
    assert ipv4_routes(peer) > limit

    err = nsim.fails("dev", "reload", nsim.handle, "netns", peer.netns)
    assert err.message == "Exceeded number of supported fib entries" and err.driver == "netdevsim", err
    assert err.kernel == "Operation not permitted", err
    # The instance moved before the driver failed to come up in peer.
    in_peer = nsim.seen_from(peer)
    assert in_peer.devices() == {nsim.handle: {"reload_failed": True}}
    assert not nsim.visible()

    # Lift the limit from peer, then reload back into dut: the device recovers.
    in_peer.run("resource", "set", nsim.handle, "path", "IPv4/fib", "size", UNLIMITED)
    in_peer.reload("netns", dut.netns)
    assert nsim.devices() == {nsim.handle: {}}
    assert sorted(nsim.ports()) == [0, 1, 2, 3]
    assert dl.size_value(nsim.resources()["IPv4/fib"]["size"]) is None


def test_children_larger_than_their_parent_make_reload_refuse(nsim):
    for path in ("IPv4/fib", "IPv4/fib-rules"):
        nsim.run("resource", "set", nsim.handle, "path", path, "size", "8")
    nsim.run("resource", "set", nsim.handle, "path", "IPv4", "size", "10")  # 8 + 8 > 10
    assert nsim.resources()["IPv4"]["size_valid"] == "false"
    err = nsim.fails("dev", "reload", nsim.handle)
    assert err.message == "resources size validation failed" and err.kernel == "Invalid argument", err
    assert nsim.stats()[("reload", "driver_reinit", "unspecified")] == 0

    nsim.run("resource", "set", nsim.handle, "path", "IPv4", "size", UNLIMITED)
    assert nsim.resources()["IPv4"]["size_valid"] == "true"
    nsim.reload()
    assert nsim.resources()["IPv4/fib"]["size"] == 8


def test_an_unknown_resource_path_is_refused(nsim):
    proc = nsim.run("resource", "set", nsim.handle, "path", "IPv4/no-such-resource", "size", "10", check=False)
    assert proc.returncode != 0 and "error parsing resource path" in proc.stderr, proc.stderr
