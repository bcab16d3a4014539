"""IPv6 route offload: single-path and multipath routes, append/replace/delete
and the flags following the route the kernel would use.

IPv6 merges gateway routes of equal metric into one multipath route (its
flags are the route's); a route without gateway appended to a node is a
separate route and stays out of hardware. Fault injection and reload
replay need netdevsim.

Reference: drivers/net/netdevsim/fib.sh (ipv6_*) and
net/forwarding/fib_offload_lib.sh (fib_ipv6_*).
"""

from __future__ import annotations

from suitelib import switchdev as sd

GW6 = ("2001:db8:1::2", "2001:db8:2::2")  # behind the first and second switch port


def net6(n: int) -> str:
    """The n-th test /64 (inside suitelib.switchdev_switch.TEST_NET6, flushed on real hardware)."""
    return f"2001:db8:10{n:02x}::/64"


P = net6(1)
GW_A3 = "2001:db8:1::3"  # a second gateway behind port a, for 3-way multipath


def mp(*hops: tuple[str, str]) -> list[str]:
    out = []
    for gw, dev in hops:
        out += ["nexthop", "via", gw, "dev", dev]
    return out


def test_appended_route_without_gateway_stays_out_of_hw(switch):
    a, b = switch.ports
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(6, {(P, "dev", a, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "append", P, "dev", b, "metric", "1024")
    switch.wait_routes(6, {(P, "dev", a, "metric", "1024"): "in_hw", (P, "dev", b, "metric", "1024"): "none"})


def test_metric_lowest_metric_route_is_in_hw(switch):
    a = switch.ports[0]
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1022")
    switch.wait_routes(6, {(P, "metric", "1022"): "in_hw", (P, "metric", "1024"): "none"})
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1023")
    switch.wait_routes(6, {(P, "metric", "1022"): "in_hw", (P, "metric", "1023"): "none"})


def test_append_single_gateway_routes_become_multipath(switch):
    switch.ip("-6", "route", "add", P, "via", GW6[0], "metric", "1024")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "append", P, "via", GW6[1], "metric", "1024")
    switch.batch(f"route add {P} via {GW6[0]} metric 1025", f"route append {P} via {GW6[1]} metric 1025")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "none"})
    (route,) = switch.routes(6, P, "metric", "1024")
    assert sorted(n["gateway"] for n in route["nexthops"]) == sorted(GW6)


def test_replace_single(switch):
    a, b = switch.ports
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(6, {(P, "dev", a, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "replace", P, "dev", b, "metric", "1024")
    switch.wait_routes(6, {(P, "dev", b, "metric", "1024"): "in_hw", (P, "dev", a, "metric", "1024"): "absent"})
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1025")
    switch.ip("-6", "route", "replace", P, "dev", b, "metric", "1025")
    switch.wait_routes(6, {(P, "dev", b, "metric", "1024"): "in_hw", (P, "dev", b, "metric", "1025"): "none"})


def test_metric_multipath(switch):
    a, b = switch.ports
    hops = mp((GW6[0], a), (GW6[1], b))
    switch.ip("-6", "route", "add", P, "metric", "1024", *hops)
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "add", P, "metric", "1022", *hops)
    switch.wait_routes(6, {(P, "metric", "1022"): "in_hw", (P, "metric", "1024"): "none"})
    switch.ip("-6", "route", "add", P, "metric", "1023", *hops)
    switch.wait_routes(6, {(P, "metric", "1022"): "in_hw", (P, "metric", "1023"): "none"})


def test_append_multipath(switch):
    a, b = switch.ports
    more = mp((GW6[1], b), (GW_A3, a))
    switch.ip("-6", "route", "add", P, "metric", "1024", *mp((GW6[0], a)))
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "append", P, "metric", "1024", *more)
    switch.ip("-6", "route", "add", P, "metric", "1025", *mp((GW6[0], a)))
    switch.ip("-6", "route", "append", P, "metric", "1025", *more)
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "none"})
    (route,) = switch.routes(6, P, "metric", "1024")
    assert len(route["nexthops"]) == 3, route


def test_replace_multipath(switch):
    a, b = switch.ports
    old, new = mp((GW6[0], a), (GW6[1], b)), mp((GW6[0], a), (GW_A3, a))
    switch.ip("-6", "route", "add", P, "metric", "1024", *old)
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "replace", P, "metric", "1024", *new)
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    (route,) = switch.routes(6, P, "metric", "1024")
    assert sorted(n["gateway"] for n in route["nexthops"]) == sorted([GW6[0], GW_A3])
    switch.ip("-6", "route", "add", P, "metric", "1025", *old)
    switch.ip("-6", "route", "replace", P, "metric", "1025", *new)
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "none"})


def test_multipath_appended_to_a_single_route_is_not_offloaded(switch):
    a, b = switch.ports
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(6, {(P, "dev", a, "metric", "1024"): "in_hw"})
    switch.ip("-6", "route", "append", P, "metric", "1024", *mp((GW6[1], b)))
    switch.wait_routes(6, {(P, "dev", a, "metric", "1024"): "in_hw", (P, "dev", b, "metric", "1024"): "none"})


def test_delete_single(switch):
    a, b = switch.ports
    two = " ".join(mp((GW6[0], a), (GW6[1], b)))
    # The last route of the node deleted: the first keeps its flags.
    switch.batch(f"route add {P} dev {a} metric 1024", f"route add {P} dev {a} metric 1025",
                 f"route del {P} dev {a} metric 1025")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "absent"})
    # The first deleted: the next single route takes over.
    switch.batch(f"route add {P} dev {a} metric 1025", f"route del {P} dev {a} metric 1024")
    switch.wait_routes(6, {(P, "metric", "1025"): "in_hw"})
    # The first deleted: the next (multipath) route takes over.
    switch.batch(f"route del {P} dev {a} metric 1025", f"route add {P} dev {a} metric 1024",
                 f"route add {P} metric 1025 {two}")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "none"})
    switch.ip("-6", "route", "del", P, "dev", a, "metric", "1024")
    switch.wait_routes(6, {(P, "metric", "1025"): "in_hw"})
    # One nexthop deleted from a multipath route: the rest stays in hardware.
    switch.batch(f"route del {P} metric 1025", f"route add {P} metric 1024 {two}",
                 f"route del {P} metric 1024 {' '.join(mp((GW6[0], a)))}")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw"})
    (route,) = switch.routes(6, P, "metric", "1024")
    assert route.get("gateway", route.get("nexthops", [{}])[0].get("gateway")) == GW6[1], route


def test_delete_multipath(switch):
    a, b = switch.ports
    two = " ".join(mp((GW6[0], a), (GW6[1], b)))
    switch.batch(f"route add {P} metric 1024 {two}", f"route add {P} metric 1025 {two}", f"route del {P} metric 1025")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "absent"})
    # The first (multipath) deleted: the next single route takes over.
    switch.ip("-6", "route", "add", P, "dev", a, "metric", "1025")
    switch.wait_routes(6, {(P, "metric", "1024"): "in_hw", (P, "metric", "1025"): "none"})
    switch.ip("-6", "route", "del", P, "metric", "1024")
    switch.wait_routes(6, {(P, "metric", "1025"): "in_hw"})
    # The first deleted: the next multipath route takes over.
    switch.batch(f"route del {P} dev {a} metric 1025", f"route add {P} metric 1024 {two}",
                 f"route add {P} metric 1025 {two}", f"route del {P} metric 1024")
    switch.wait_routes(6, {(P, "metric", "1025"): "in_hw"})


def test_offload_failure_is_reported_for_single_and_multipath(switch, nsim):
    a, b = switch.ports
    with nsim.knob("fib/fail_route_offload", "y"):
        switch.ip("-6", "route", "add", P, "dev", a, "metric", "1024")
        switch.ip("-6", "route", "add", net6(2), "metric", "1024", *mp((GW6[0], a), (GW6[1], b)))
        switch.wait_routes(6, {(P, "metric", "1024"): "offload_failed", (net6(2), "metric", "1024"): "offload_failed"})
    switch.ip("-6", "route", "add", net6(3), "dev", a)
    switch.wait_routes(6, {(net6(3),): "in_hw", (P, "metric", "1024"): "offload_failed"})


def test_delete_failure_leaks_no_reference(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    switch.ip("-6", "route", "add", P, "dev", port)
    switch.wait_routes(6, {(P, "dev", port): "in_hw"})
    with nsim.knob("fib/fail_route_delete", "y"):
        switch.ip("-6", "route", "del", P, "dev", port)
    assert switch.routes(6, P) == []
    switch.ip("link", "del", "dev", port)  # would hang on a leaked reference


def test_reload_replays_single_and_multipath_routes(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    hops = ["nexthop", "via", "2001:db8:3::2", "dev", port, "nexthop", "via", "2001:db8:3::3", "dev", port]
    switch.batch(f"route add {P} dev {port} metric 1024", f"route add {P} dev {port} metric 1025")
    switch.ip("-6", "route", "add", net6(2), "metric", "1024", *hops)
    switch.ip("-6", "route", "add", net6(2), "metric", "1025", *hops)
    expect = {
        (P, "metric", "1024"): "in_hw",
        (net6(2), "metric", "1024"): "in_hw",
        (P, "metric", "1025"): "none",
        (net6(2), "metric", "1025"): "none",
    }
    switch.wait_routes(6, expect)
    nsim.reload()
    switch.wait_routes(6, expect)
    assert sd.route_state(switch.routes(6, net6(2), "metric", "1024")[0]) == "in_hw"
