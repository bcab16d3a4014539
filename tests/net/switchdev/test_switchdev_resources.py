"""FIB resource limits of the netdevsim model, beyond what the devlink suite
checks (tests/net/devlink/test_devlink_resources.py covers the resource
tree, occupancy, the IPv4/fib limit refusing routes with EPERM and a
netns reload failing on an oversized FIB): the IPv6 FIB limit for single
and multipath routes, the limit refusing an in-place reload (replay), and
the fib-rules limits. Sizes are staged by ``devlink resource set`` and
applied by reload, so each test has a device of its own; routes hang off
the veth v1, which survives the reload.

Reference: drivers/net/netdevsim/fib.sh ipv4_error_path, ipv6_error_path.
"""

from __future__ import annotations

import time

import pytest

FIB_EXCEEDED = "netdevsim: Exceeded number of supported fib entries"
RULES_EXCEEDED = "netdevsim: Exceeded number of supported fib rule entries"


def wait_dad(switch, ifname: str, timeout: float = 60.0) -> None:
    """IPv6 adds an address's local route when DAD ends: wait for that, so the
    FIB (and the model's occupancy) stops moving."""
    deadline = time.monotonic() + timeout
    while True:
        addrs = [a for e in switch.ipj("-6", "addr", "show", "dev", ifname) for a in e["addr_info"]]
        if any(a.get("scope") == "link" for a in addrs) and not any(a.get("tentative") for a in addrs):
            return
        assert time.monotonic() < deadline, f"{ifname}: IPv6 addresses still tentative: {addrs}"
        time.sleep(0.2)


def test_ipv6_fib_limit_refuses_single_and_multipath_routes(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    wait_dad(switch, port)
    nsim.set_size("IPv6/fib", nsim.occ("IPv6/fib") + 2)
    nsim.reload()
    free = int(nsim.resources()["IPv6/fib"]["size"]) - nsim.occ("IPv6/fib")
    assert free >= 1, nsim.resources()["IPv6/fib"]
    for n in range(free):
        switch.ip("-6", "route", "add", f"2001:db8:10{n:02x}::/64", "dev", port)
    rc, msg = switch.fails("-6", "route", "add", "2001:db8:10ff::/64", "dev", port)
    assert msg == FIB_EXCEEDED
    hops = ["nexthop", "via", "2001:db8:3::2", "dev", port, "nexthop", "via", "2001:db8:3::3", "dev", port]
    assert switch.fails("-6", "route", "add", "2001:db8:10fe::/64", *hops)[1] == FIB_EXCEEDED
    assert switch.routes(6, "2001:db8:10fe::/64") == []


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
def test_reload_cannot_replay_a_fib_beyond_the_limit(fresh_switch, family):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    path = f"IPv{family}/fib"
    prefixes = [f"10.9.{n}.0/24" if family == 4 else f"2001:db8:10{n:02x}::/64" for n in range(20)]
    switch.batch(*(f"route add {p} dev {port}" for p in prefixes))
    nsim.set_size(path, 10)
    proc = nsim.reload(check=False)
    assert proc.returncode != 0, "reload replayed more routes than the limit allows"
    nsim.set_size(path, None)
    nsim.reload()
    switch.wait_routes(family, {(p, "dev", port): "in_hw" for p in prefixes[:3]})
    assert nsim.occ(path) >= 20


def test_fib_rules_limits(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    for family in (4, 6):
        nsim.set_size(f"IPv{family}/fib-rules", nsim.occ(f"IPv{family}/fib-rules") + 1)
    nsim.reload()
    for family in (4, 6):
        switch.ip(f"-{family}", "rule", "add", "pref", "100", "table", "100")
        rc, msg = switch.fails(f"-{family}", "rule", "add", "pref", "101", "table", "101")
        assert msg == RULES_EXCEEDED
        rules = [r.get("priority") for r in switch.ipj(f"-{family}", "rule", "show")]
        assert 100 in rules and 101 not in rules
