"""Nexthop object offload: single nexthops, groups and resilient groups with
their buckets, replace and delete, and (netdevsim) the ``nexthops`` resource:
a single nexthop costs 1, a group the sum of its members' weights, a
resilient group its bucket count.

A driver programs nexthops from the notifier synchronously, so the flags
are there when ``ip nexthop`` returns. Limits are staged with ``devlink
resource set`` and applied by a reload; those tests hang their nexthops off
the veth v1 (the reload re-creates netdevsim's ports). Fault injection:
``fib/fail_res_nexthop_group_replace``, ``fib/fail_nexthop_bucket_replace``,
``fib/nexthop_bucket_activity`` (marks buckets busy, so the idle timer
decides when they migrate).

Reference: drivers/net/netdevsim/nexthop.sh; drivers/net/netdevsim/fib.c.
"""

from __future__ import annotations

import errno
import time

from suitelib import switchdev as sd

NH_EXCEEDED = "netdevsim: Exceeded number of supported nexthops"


def add_nexthops(switch, port: str, gws: list[str], first_id: int = 1) -> None:
    switch.batch(*(f"nexthop add id {first_id + i} via {gw} dev {port}" for i, gw in enumerate(gws)))


def gws(switch, n: int, on_reload_port: bool = False) -> tuple[str, list[str]]:
    """A port and n gateways on its subnet."""
    if on_reload_port:
        return switch.reload_port, [f"203.0.113.{i + 2}" for i in range(n)]
    return switch.ports[0], [f"192.0.2.{i + 2}" for i in range(n)]


def assert_occ(switch, expected: int) -> None:
    if switch.nsim is not None:  # the resource is netdevsim's model
        assert switch.nsim.occ("nexthops") == expected


def bucket_counts(switch, group: int) -> dict[int, int]:
    return dict(sd.bucket_nhids(switch.buckets(group)))


def test_single_nexthop(switch):
    port, (gw,) = gws(switch, 1)
    switch.ip("nexthop", "add", "id", "1", "via", gw, "dev", port)
    nh = switch.nexthops()[1]
    assert sd.nexthop_in_hw(nh) and nh["gateway"] == gw and nh["dev"] == port, nh
    assert_occ(switch, 1)
    switch.ip("nexthop", "del", "id", "1")
    assert 1 not in switch.nexthops()
    assert_occ(switch, 0)


def test_group_costs_the_sum_of_weights(switch):
    port, addrs = gws(switch, 2)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2")
    nh = switch.nexthops()[10]
    assert sd.nexthop_in_hw(nh) and sd.group_members(nh) == [(1, 1), (2, 1)], nh
    assert_occ(switch, 4)
    switch.ip("nexthop", "del", "id", "10")
    assert_occ(switch, 2)
    switch.ip("nexthop", "add", "id", "10", "group", "1,20/2,39")
    nh = switch.nexthops()[10]
    assert sd.nexthop_in_hw(nh) and sd.group_members(nh) == [(1, 20), (2, 39)], nh
    assert_occ(switch, 61)
    switch.ip("nexthop", "del", "id", "10")
    assert_occ(switch, 2)


def test_resilient_group_buckets_are_in_hw(switch):
    switch.require_nsim("resilient groups of 4-6 buckets: ASICs need more")
    port, addrs = gws(switch, 2)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2", "type", "resilient", "buckets", "4")
    nh = switch.nexthops()[10]
    assert sd.nexthop_in_hw(nh), nh
    assert sd.resilient_args(nh) == {"buckets": 4, "idle_timer": 120, "unbalanced_timer": 0, "unbalanced_time": 0}
    assert bucket_counts(switch, 10) == {1: 2, 2: 2}
    assert_occ(switch, 6)
    switch.ip("nexthop", "del", "id", "10")
    assert_occ(switch, 2)
    switch.ip("nexthop", "add", "id", "10", "group", "1,3/2,2", "type", "resilient", "buckets", "5")
    assert bucket_counts(switch, 10) == {1: 3, 2: 2}
    assert_occ(switch, 7)


def test_group_replace(switch):
    port, addrs = gws(switch, 3)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2")
    switch.ip("nexthop", "replace", "id", "10", "group", "1/2/3")
    nh = switch.nexthops()[10]
    assert sd.nexthop_in_hw(nh) and [m for m, _ in sd.group_members(nh)] == [1, 2, 3], nh
    assert_occ(switch, 6)


def test_resilient_group_replace_spreads_buckets(switch):
    switch.require_nsim("resilient groups of 4-6 buckets: ASICs need more")
    port, addrs = gws(switch, 3)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2", "type", "resilient", "buckets", "6")
    assert bucket_counts(switch, 10) == {1: 3, 2: 3}
    switch.ip("nexthop", "replace", "id", "10", "group", "1/2/3", "type", "resilient")
    assert sd.resilient_args(switch.nexthops()[10])["buckets"] == 6
    assert bucket_counts(switch, 10) == {1: 2, 2: 2, 3: 2}
    assert_occ(switch, 9)


def test_single_replace(switch):
    port, addrs = gws(switch, 2)
    switch.ip("nexthop", "add", "id", "1", "via", addrs[0], "dev", port)
    switch.ip("nexthop", "replace", "id", "1", "via", addrs[1], "dev", port)
    nh = switch.nexthops()[1]
    assert sd.nexthop_in_hw(nh) and nh["gateway"] == addrs[1], nh
    assert_occ(switch, 1)


def test_member_replace_and_delete_keep_the_group_in_hw(switch):
    switch.require_nsim("resilient groups of 4-6 buckets: ASICs need more")
    port, addrs = gws(switch, 3)
    add_nexthops(switch, port, addrs[:2])
    switch.batch("nexthop add id 10 group 1/2", "nexthop add id 11 group 1/2 type resilient buckets 4")
    switch.ip("nexthop", "replace", "id", "1", "via", addrs[2], "dev", port)
    nhs = switch.nexthops()
    assert sd.nexthop_in_hw(nhs[10]) and sd.group_members(nhs[10]) == [(1, 1), (2, 1)], nhs[10]
    assert sd.nexthop_in_hw(nhs[11]) and bucket_counts(switch, 11) == {1: 2, 2: 2}
    assert_occ(switch, 2 + 2 + 4)
    switch.ip("nexthop", "del", "id", "1")
    nhs = switch.nexthops()
    assert sd.group_members(nhs[10]) == [(2, 1)] and sd.nexthop_in_hw(nhs[10]), nhs[10]
    assert sd.resilient_args(nhs[11])["buckets"] == 4 and bucket_counts(switch, 11) == {2: 4}
    assert_occ(switch, 1 + 1 + 4)


def test_invalid_nexthops_are_rejected(switch):
    port, addrs = gws(switch, 1)
    add_nexthops(switch, port, addrs)
    assert switch.fails("nexthop", "add", "id", "10", "group", "1/99") == (2, "Invalid nexthop id")
    rc, msg = switch.fails("nexthop", "add", "id", "11", "group", "1", "type", "resilient", "buckets", "0")
    assert msg == "Number of buckets needs to be non-0", msg
    assert set(switch.nexthops()) == {1}
    assert_occ(switch, 1)


def test_reload_replays_nexthops(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port, addrs = gws(switch, 2, on_reload_port=True)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2")
    nsim.reload()
    nhs = switch.nexthops()
    assert all(sd.nexthop_in_hw(nhs[i]) for i in (1, 2, 10)), nhs
    assert nsim.occ("nexthops") == 4


def test_limit_refuses_single_nexthops_and_replace(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port, addrs = gws(switch, 2, on_reload_port=True)
    nsim.set_size("nexthops", 1)
    nsim.reload()
    switch.ip("nexthop", "add", "id", "1", "via", addrs[0], "dev", port)
    assert switch.fails("nexthop", "add", "id", "2", "via", addrs[1], "dev", port)[1] == NH_EXCEEDED
    # The replacement is programmed before the old one goes: it does not fit.
    assert switch.fails("nexthop", "replace", "id", "1", "via", addrs[1], "dev", port)[1] == NH_EXCEEDED
    nhs = switch.nexthops()
    assert set(nhs) == {1} and nhs[1]["gateway"] == addrs[0] and sd.nexthop_in_hw(nhs[1])
    assert nsim.occ("nexthops") == 1


def test_limit_refuses_groups(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port, addrs = gws(switch, 3, on_reload_port=True)
    nsim.set_size("nexthops", 2)
    nsim.reload()
    add_nexthops(switch, port, addrs[:2])
    assert switch.fails("nexthop", "add", "id", "10", "group", "1/2")[1] == NH_EXCEEDED
    assert switch.fails("nexthop", "add", "id", "10", "group", "1/2", "type", "resilient", "buckets", "4")[1] == NH_EXCEEDED
    assert set(switch.nexthops()) == {1, 2}
    assert nsim.occ("nexthops") == 2


def test_limit_refuses_group_and_member_replace(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port, addrs = gws(switch, 4, on_reload_port=True)
    nsim.set_size("nexthops", 5)
    nsim.reload()
    add_nexthops(switch, port, addrs[:3])
    switch.ip("nexthop", "add", "id", "10", "group", "1/2")
    assert switch.fails("nexthop", "replace", "id", "10", "group", "1/2/3")[1] == NH_EXCEEDED
    assert switch.fails("nexthop", "replace", "id", "1", "via", addrs[3], "dev", port)[1] == NH_EXCEEDED
    nhs = switch.nexthops()
    assert sd.group_members(nhs[10]) == [(1, 1), (2, 1)] and sd.nexthop_in_hw(nhs[10])
    assert nhs[1]["gateway"] == addrs[0]
    assert nsim.occ("nexthops") == 5


def test_limit_member_delete_and_replay(fresh_switch):
    switch, nsim = fresh_switch, fresh_switch.nsim
    port, addrs = gws(switch, 3, on_reload_port=True)
    nsim.set_size("nexthops", 6)
    nsim.reload()
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2/3")
    assert nsim.occ("nexthops") == 6
    # Deleting member 1 replaces the group with a 2-member one, allocated
    # before the old one is freed: the replacement does not fit, the
    # deletion still happens.
    switch.ip("nexthop", "del", "id", "1")
    assert nsim.occ("nexthops") == 5
    # A reload that cannot replay the namespace's nexthops fails ...
    nsim.set_size("nexthops", 3)
    assert nsim.reload(check=False).returncode != 0
    # ... and succeeds once the limit fits again.
    nsim.set_size("nexthops", None)
    nsim.reload()
    assert all(sd.nexthop_in_hw(nh) for nh in switch.nexthops().values())


def test_resilient_group_replace_failure_keeps_the_old_group(switch, nsim):
    port, addrs = gws(switch, 3)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2", "type", "resilient", "buckets", "6")
    with nsim.knob("fib/fail_res_nexthop_group_replace", "1"):
        rc, msg = switch.fails("nexthop", "replace", "id", "10", "group", "1/2/3", "type", "resilient")
    assert msg == "netdevsim: Failed to replace a resilient nexthop group", msg
    assert [m for m, _ in sd.group_members(switch.nexthops()[10])] == [1, 2]
    assert bucket_counts(switch, 10) == {1: 3, 2: 3}
    assert nsim.occ("nexthops") == 9
    # Negative control: without the knob the same replace goes through.
    switch.ip("nexthop", "replace", "id", "10", "group", "1/2/3", "type", "resilient")
    assert bucket_counts(switch, 10) == {1: 2, 2: 2, 3: 2}


def test_bucket_replace_failure(switch, nsim):
    port, addrs = gws(switch, 4)
    add_nexthops(switch, port, addrs[:3])
    switch.batch("nexthop add id 10 group 1/2 type resilient buckets 4", "nexthop add id 11 group 1/2/3 type resilient buckets 6")
    with nsim.knob("fib/fail_nexthop_bucket_replace", "1"):
        switch.fails("nexthop", "replace", "id", "1", "via", addrs[3], "dev", port)
        assert switch.nexthops()[1]["gateway"] == addrs[0]
        assert bucket_counts(switch, 10) == {1: 2, 2: 2}
        # Deleting member 1 goes through, but its two buckets of group 11
        # could not be re-pointed in hardware: they lose their flags.
        switch.ip("nexthop", "del", "id", "1")
        assert bucket_counts(switch, 11) == {2: 2, 3: 2}
        assert len(switch.buckets(11)) == 6


def test_busy_buckets_migrate_after_the_idle_timer(switch, nsim):
    port, addrs = gws(switch, 2)
    add_nexthops(switch, port, addrs)
    switch.ip("nexthop", "add", "id", "10", "group", "1/2", "type", "resilient", "buckets", "8", "idle_timer", "3")
    for index in sd.bucket_indexes(switch.buckets(10, nhid=1)):
        nsim.write_knob("fib/nexthop_bucket_activity", f"10 {index}")
    switch.ip("nexthop", "replace", "id", "10", "group", "1/2,3", "type", "resilient")
    assert bucket_counts(switch, 10) == {1: 4, 2: 4}  # busy: not moved yet
    deadline = time.monotonic() + 60
    while bucket_counts(switch, 10) != {1: 2, 2: 6}:
        assert time.monotonic() < deadline, f"buckets never rebalanced: {bucket_counts(switch, 10)}"
        time.sleep(0.5)
    # A replace leaving only nexthop 2 forces every bucket over, busy or not.
    switch.ip("nexthop", "replace", "id", "10", "group", "2", "type", "resilient")
    assert bucket_counts(switch, 10) == {2: 8}


def test_bucket_activity_knob_rejects_bad_input(switch, nsim):
    port, addrs = gws(switch, 1)
    add_nexthops(switch, port, addrs)
    assert nsim.knob_errno("fib/nexthop_bucket_activity", "abc") == errno.EINVAL
    assert nsim.knob_errno("fib/nexthop_bucket_activity", "1 0") == errno.EINVAL  # not a resilient group
    assert nsim.knob_errno("fib/nexthop_bucket_activity", "99 0") == errno.EINVAL  # no such group
