"""Route notifications on offload flag changes: net.ipv{4,6}.fib_notify_on_flag_change.

0: one RTM_NEWROUTE per route change, flags change silently. 1: a second
RTM_NEWROUTE when the driver sets or clears a hardware flag. 2: the second
one only when offload failed. Deletion is one RTM_DELROUTE whatever the
setting. The listener is a netlink socket subscribed to the route group
before the change (no race with a monitor process starting); the test
waits for the flag in a dump, then collects what the socket got.

Reference: drivers/net/netdevsim/fib_notifications.sh.
"""

from __future__ import annotations

import errno

import pytest

from suitelib import switchdev as sd

PREFIX = {4: "10.5.0.0/24", 6: "2001:db8:1005::/64"}
FAMILIES = pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])


def collect(switch, sock, family: int, expect: dict) -> list[sd.RouteEvent]:
    switch.wait_routes(family, expect)
    return [e for e in sd.route_events(switch.drain(sock)) if e.dst == PREFIX[family]]


def check(got: list[tuple[str, str]], count: int, final: str, notify: int) -> None:
    """``count`` RTM_NEWROUTE messages; with two, the second carries the final flags.

    The first message is built after the FIB handed the route to the driver,
    which may already have set the flags: its state is "none" or the final one.
    """
    assert [k for k, _ in got] == ["new"] * count, f"fib_notify_on_flag_change={notify}: {got}"
    assert got[0][1] in ("none", final), f"fib_notify_on_flag_change={notify}: {got}"
    if count == 2:
        assert got[1][1] == final, f"fib_notify_on_flag_change={notify}: {got}"


def kinds(events: list[sd.RouteEvent]) -> list[tuple[str, str]]:
    """(new/del, in_hw/offload_failed/none) per event, for readable failures."""
    return [(e.kind, "offload_failed" if e.offload_failed else "in_hw" if e.in_hw else "none") for e in events]


@FAMILIES
def test_route_addition(switch, family):
    a = switch.ports[0]
    p = PREFIX[family]
    sock = switch.route_listener(family)
    for notify, count in ((0, 1), (1, 2), (2, 1)):
        switch.set_notify(notify)
        switch.ip(f"-{family}", "route", "add", p, "dev", a)
        check(kinds(collect(switch, sock, family, {(p, "dev", a): "in_hw"})), count, "in_hw", notify)
        switch.ip(f"-{family}", "route", "del", p, "dev", a)
        switch.drain(sock, quiet=0.1)


@FAMILIES
def test_route_deletion_is_one_notification(switch, family):
    a = switch.ports[0]
    p = PREFIX[family]
    sock = switch.route_listener(family)
    for notify in (0, 1):
        switch.set_notify(notify)
        switch.ip(f"-{family}", "route", "add", p, "dev", a)
        switch.wait_routes(family, {(p, "dev", a): "in_hw"})
        switch.drain(sock, quiet=0.1)
        switch.ip(f"-{family}", "route", "del", p, "dev", a)
        got = kinds(collect(switch, sock, family, {(p,): "absent"}))
        assert [k for k, _ in got] == ["del"], f"fib_notify_on_flag_change={notify}: {got}"


@FAMILIES
def test_route_replacement(switch, family):
    a, b = switch.ports
    p = PREFIX[family]
    sock = switch.route_listener(family)
    for notify, count in ((0, 1), (1, 2), (2, 1)):
        switch.set_notify(notify)
        switch.ip(f"-{family}", "route", "add", p, "dev", a)
        switch.wait_routes(family, {(p, "dev", a): "in_hw"})
        switch.drain(sock, quiet=0.1)
        switch.ip(f"-{family}", "route", "replace", p, "dev", b)
        check(kinds(collect(switch, sock, family, {(p, "dev", b): "in_hw"})), count, "in_hw", notify)
        switch.ip(f"-{family}", "route", "del", p, "dev", b)
        switch.drain(sock, quiet=0.1)


@FAMILIES
def test_offload_failure_is_notified_also_with_2(switch, nsim, family):
    a = switch.ports[0]
    p = PREFIX[family]
    sock = switch.route_listener(family)
    with nsim.knob("fib/fail_route_offload", "y"):
        for notify, count in ((0, 1), (1, 2), (2, 2)):
            switch.set_notify(notify)
            switch.ip(f"-{family}", "route", "add", p, "dev", a)
            got = kinds(collect(switch, sock, family, {(p, "dev", a): "offload_failed"}))
            check(got, count, "offload_failed", notify)
            switch.ip(f"-{family}", "route", "del", p, "dev", a)
            switch.drain(sock, quiet=0.1)


@FAMILIES
def test_out_of_range_value_is_rejected(switch, family):
    key = f"net.ipv{family}.fib_notify_on_flag_change"
    switch.set_sysctl(key, 2)
    with pytest.raises(OSError) as exc:
        switch.set_sysctl(key, 3)
    assert exc.value.errno == errno.EINVAL
