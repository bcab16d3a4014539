"""IPv4 route offload: which route of a FIB node the switch holds, and how the
flags follow add, append, prepend, replace and delete.

The kernel offers the switch only the route it would use for a prefix (the
first of the node: lowest metric, then highest TOS, then insertion order
unless prepended); that route shows ``rt_trap`` (netdevsim) or
``rt_offload`` (an ASIC), the others show nothing. Every in-hardware
expectation is paired with a not-in-hardware one for a sibling route, the
negative control. netdevsim fault injection (``fib/fail_route_offload``,
``fib/fail_route_delete``) and devlink reload (the driver replays the FIB)
need netdevsim.

Reference: drivers/net/netdevsim/fib.sh (ipv4_*) and
net/forwarding/fib_offload_lib.sh; drivers/net/netdevsim/fib.c.
"""

from __future__ import annotations

from suitelib import switchdev as sd

P = "10.1.0.0/24"


def sel(prefix: str, dev: str, *extra: str) -> tuple[str, ...]:
    return (prefix, "dev", dev, *extra)


def test_identical_routes_only_the_first_is_in_hw(switch):
    a, b = switch.ports
    switch.ip("route", "add", P, "dev", a, "tos", "0", "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "metric", "1024"): "in_hw"})
    switch.ip("route", "append", P, "dev", b, "tos", "0", "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "metric", "1024"): "in_hw", sel(P, b, "metric", "1024"): "none"})
    # A prepended route goes first in the node and takes over.
    switch.ip("route", "prepend", P, "via", "192.0.2.3", "dev", a, "tos", "0", "metric", "1024")
    switch.wait_routes(
        4,
        {
            (P, "via", "192.0.2.3", "metric", "1024"): "in_hw",
            (P, "dev", b, "metric", "1024"): "none",
        },
    )
    routes = switch.routes(4, P)
    assert [sd.route_state(r) for r in routes].count("in_hw") == 1, routes


def test_tos_highest_tos_route_is_in_hw(switch):
    switch.require_nsim("TOS routes: switch ASICs refuse them")
    a = switch.ports[0]
    switch.ip("route", "add", P, "dev", a, "tos", "0", "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "tos", "0", "metric", "1024"): "in_hw"})
    switch.ip("route", "add", P, "dev", a, "tos", "8", "metric", "1024")
    switch.wait_routes(
        4, {sel(P, a, "tos", "8", "metric", "1024"): "in_hw", sel(P, a, "tos", "0", "metric", "1024"): "none"}
    )
    switch.ip("route", "add", P, "dev", a, "tos", "4", "metric", "1024")
    switch.wait_routes(
        4, {sel(P, a, "tos", "8", "metric", "1024"): "in_hw", sel(P, a, "tos", "4", "metric", "1024"): "none"}
    )


def test_metric_lowest_metric_route_is_in_hw(switch):
    a = switch.ports[0]
    switch.ip("route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "metric", "1024"): "in_hw"})
    switch.ip("route", "add", P, "dev", a, "metric", "1022")
    switch.wait_routes(4, {sel(P, a, "metric", "1022"): "in_hw", sel(P, a, "metric", "1024"): "none"})
    switch.ip("route", "add", P, "dev", a, "metric", "1023")
    switch.wait_routes(4, {sel(P, a, "metric", "1022"): "in_hw", sel(P, a, "metric", "1023"): "none"})


def test_replace_moves_the_flags_to_the_new_route(switch):
    a, b = switch.ports
    switch.ip("route", "add", P, "dev", a, "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "metric", "1024"): "in_hw"})
    switch.ip("route", "replace", P, "dev", b, "metric", "1024")
    switch.wait_routes(4, {sel(P, b, "metric", "1024"): "in_hw", sel(P, a, "metric", "1024"): "absent"})
    # Replacing a higher-metric route leaves the lower one in hardware.
    switch.ip("route", "add", P, "dev", a, "metric", "1025")
    switch.ip("route", "replace", P, "dev", b, "metric", "1025")
    switch.wait_routes(4, {sel(P, b, "metric", "1024"): "in_hw", sel(P, b, "metric", "1025"): "none"})


def test_delete_promotes_the_next_route(switch):
    a = switch.ports[0]
    switch.batch(*(f"route add {P} dev {a} metric {m}" for m in (1024, 1025, 1026)))
    switch.wait_routes(4, {sel(P, a, "metric", "1024"): "in_hw", sel(P, a, "metric", "1025"): "none"})
    switch.ip("route", "del", P, "dev", a, "metric", "1024")
    switch.wait_routes(4, {sel(P, a, "metric", "1025"): "in_hw", sel(P, a, "metric", "1026"): "none"})
    switch.ip("route", "del", P, "dev", a, "metric", "1026")
    switch.wait_routes(4, {sel(P, a, "metric", "1025"): "in_hw", sel(P, a, "metric", "1026"): "absent"})


def test_prefix_lengths_sharing_a_key_are_both_in_hw(switch):
    a = switch.ports[0]
    switch.batch(f"route add {P} dev {a}", f"route add 10.1.0.0/25 dev {a}")
    switch.wait_routes(4, {sel(P, a): "in_hw", sel("10.1.0.0/25", a): "in_hw"})


def test_routes_in_other_tables_and_fib_rules_are_offloaded(switch, nsim):
    """netdevsim's model takes every table of its namespace and counts FIB rules."""
    a = switch.ports[0]
    rules = nsim.occ("IPv4/fib-rules")
    switch.batch(f"route add {P} dev {a} table 100", f"route add {P} dev {a} metric 7", "rule add pref 100 table 100")
    switch.wait_routes(4, {sel(P, a, "table", "100"): "in_hw", sel(P, a, "metric", "7"): "in_hw"})
    assert nsim.occ("IPv4/fib-rules") == rules + 1
    switch.ip("rule", "del", "pref", "100")
    assert nsim.occ("IPv4/fib-rules") == rules
    with nsim.knob("fib/fail_route_offload", "y"):
        switch.ip("route", "add", "10.2.0.0/24", "dev", a, "table", "200")
        switch.wait_routes(4, {sel("10.2.0.0/24", a, "table", "200"): "offload_failed"})


def test_offload_failure_is_reported_and_cleared_by_replace(switch, nsim):
    a, b = switch.ports
    with nsim.knob("fib/fail_route_offload", "y"):
        switch.ip("route", "add", P, "dev", a)
        switch.wait_routes(4, {sel(P, a): "offload_failed"})
    switch.ip("route", "add", "10.3.0.0/24", "dev", a)
    switch.wait_routes(4, {sel("10.3.0.0/24", a): "in_hw", sel(P, a): "offload_failed"})
    switch.ip("route", "replace", P, "dev", b)
    switch.wait_routes(4, {sel(P, b): "in_hw"})


def test_flushing_a_netdev_removes_its_routes_from_the_model(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    before = nsim.occ("IPv4/fib")
    switch.batch(*(f"route add {P} dev {port} metric {m}" for m in range(1, 21)))
    switch.wait_routes(4, {sel(P, port, "metric", "1"): "in_hw", sel(P, port, "metric", "2"): "none"})
    # The model holds one entry per prefix and table, whatever the number of routes.
    assert nsim.occ("IPv4/fib") == before + 1
    switch.ip("link", "del", "dev", port)  # also drops its connected, local and broadcast routes
    assert nsim.occ("IPv4/fib") == before - 3


def test_delete_failure_warns_and_leaks_no_reference(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    switch.ip("route", "add", P, "dev", port)
    switch.wait_routes(4, {sel(P, port): "in_hw"})
    clean = switch.ip("route", "del", P, "dev", port)
    assert sd.extack(clean.stderr) is None, clean.stderr  # negative control
    switch.ip("route", "add", P, "dev", port)
    switch.wait_routes(4, {sel(P, port): "in_hw"})
    with nsim.knob("fib/fail_route_delete", "y"):
        proc = switch.ip("route", "del", P, "dev", port)
    assert "netdevsim: Failed to process route deletion" in proc.stderr, proc.stderr
    assert switch.routes(4, P) == []
    # A leaked reference would make this hang in unregister_netdevice.
    switch.ip("link", "del", "dev", port)


def test_reload_replays_the_fib(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port = switch.reload_port
    switch.batch(
        f"route add 10.11.0.0/24 dev {port} metric 1024",
        f"route add 10.11.0.0/24 dev {port} metric 1025",
        f"route add 10.12.0.0/24 dev {port} tos 0",
        f"route add 10.12.0.0/24 dev {port} tos 4",
        f"route add 10.13.0.0/24 dev {port}",
        f"route add 10.13.0.0/25 dev {port}",
    )
    expect = {
        sel("10.11.0.0/24", port, "metric", "1024"): "in_hw",
        sel("10.12.0.0/24", port, "tos", "4"): "in_hw",
        sel("10.13.0.0/24", port): "in_hw",
        sel("10.13.0.0/25", port): "in_hw",
        sel("10.11.0.0/24", port, "metric", "1025"): "none",
        sel("10.12.0.0/24", port, "tos", "0"): "none",
    }
    switch.wait_routes(4, expect)
    nsim.reload()
    switch.wait_routes(4, expect)
