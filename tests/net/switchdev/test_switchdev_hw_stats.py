"""L3 hardware statistics (``ip stats ... group offload``): a netdev's
``l3_stats`` are *requested* by the user (``ip stats set dev D l3_stats
on``) and *used* once some driver in the namespace provides them.

netdevsim decides through debugfs which netdevs it covers
(``hwstats/l3/enable_ifindex``, ``disable_ifindex``) and can refuse the next
request (``fail_next_enable``: the request fails with its extack and every
driver that had accepted it rolls back). While covering a netdev it counts
10 packets/s received (and 20 sent), so counters grow and restart from 0
on each request. All of this is netdevsim's model: the tests skip on real
hardware.

Reference: drivers/net/netdevsim/hw_stats_l3.sh; drivers/net/netdevsim/hwstats.c.
"""

from __future__ import annotations

import errno
import socket
import time

import pytest

from harness.topology.live import LiveTopology

from suitelib import switchdev as sd

KNOB = "hwstats/l3/"
FAIL_MSG = "netdevsim: Stats enablement set to fail"
RTNLGRP_STATS = 36
RTM_NEWSTATS = 92


def info(switch, dev: str) -> tuple[bool, bool]:
    doc = switch.ipj("stats", "show", "dev", dev, "group", "offload", "subgroup", "hw_stats_info")
    i = sd.l3_info(doc)
    return i.request, i.used


def counters(switch, dev: str) -> dict[str, int] | None:
    return sd.l3_counters(switch.ipj("stats", "show", "dev", dev, "group", "offload", "subgroup", "l3_stats"))


def l3_stats(switch, dev: str, on: bool, check: bool = True):
    return switch.ip("stats", "set", "dev", dev, "l3_stats", "on" if on else "off", check=check)


def fresh_count(switch, dev: str) -> int | None:
    """Request the stats and read rx_packets: None if it counts more than
    10/s since the request (it did not start from 0)."""
    start = time.monotonic()
    l3_stats(switch, dev, True)
    rx = counters(switch, dev)["rx_packets"]
    return rx if rx <= 10 * (time.monotonic() - start) + 2 else None


@pytest.fixture
def port(switch, nsim) -> tuple[str, int]:
    dev = switch.ports[0]
    return dev, switch.ifindex(dev)


def test_request_and_use_are_reported_separately(switch, nsim, port):
    dev, ifindex = port
    assert info(switch, dev) == (False, False)
    nsim.write_knob(KNOB + "enable_ifindex", ifindex)
    assert info(switch, dev) == (False, False)  # covered, but nobody asked
    l3_stats(switch, dev, True)
    assert info(switch, dev) == (True, True)
    nsim.write_knob(KNOB + "disable_ifindex", ifindex)
    assert info(switch, dev) == (True, False)  # asked, but no driver provides them
    nsim.write_knob(KNOB + "enable_ifindex", ifindex)
    assert info(switch, dev) == (True, True)
    l3_stats(switch, dev, False)
    assert info(switch, dev) == (False, False)
    nsim.write_knob(KNOB + "disable_ifindex", ifindex)
    assert info(switch, dev) == (False, False)


def test_injected_failure_bounces_one_request(switch, nsim, port):
    dev, ifindex = port
    nsim.write_knob(KNOB + "enable_ifindex", ifindex)
    for _ in range(2):
        nsim.write_knob(KNOB + "fail_next_enable", ifindex)
        proc = l3_stats(switch, dev, True, check=False)
        assert proc.returncode != 0 and sd.extack(proc.stderr) == FAIL_MSG, proc.stderr
        assert info(switch, dev) == (False, False)
        l3_stats(switch, dev, True)  # the failure was for one request only
        assert info(switch, dev) == (True, True)
        l3_stats(switch, dev, False)
    nsim.write_knob(KNOB + "disable_ifindex", ifindex)


def test_counters_grow_and_restart_with_each_request(switch, nsim, port):
    dev, ifindex = port
    nsim.write_knob(KNOB + "enable_ifindex", ifindex)
    l3_stats(switch, dev, True)
    first = counters(switch, dev)
    assert first is not None
    time.sleep(2)
    later = counters(switch, dev)
    assert later["rx_packets"] - first["rx_packets"] >= 10, (first, later)
    assert later["tx_packets"] == 2 * later["rx_packets"] and later["rx_bytes"] == 100 * later["rx_packets"]
    l3_stats(switch, dev, False)
    assert counters(switch, dev) is None
    time.sleep(1)
    fresh = fresh_count(switch, dev)
    assert fresh is not None and fresh < later["rx_packets"], (later, fresh)
    l3_stats(switch, dev, False)
    # A bounced request does not leave counting running behind.
    nsim.write_knob(KNOB + "fail_next_enable", ifindex)
    assert l3_stats(switch, dev, True, check=False).returncode != 0
    time.sleep(1)
    assert fresh_count(switch, dev) is not None
    l3_stats(switch, dev, False)
    nsim.write_knob(KNOB + "disable_ifindex", ifindex)


def test_enable_disable_notify_stats_listeners(switch, nsim, port):
    dev, ifindex = port
    sock = switch.node.netlink_socket(socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        sock.setsockopt(270, 1, RTNLGRP_STATS)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP

        def notified() -> int:
            return sd.message_types(switch.drain(sock, quiet=0.3)).count(RTM_NEWSTATS)

        l3_stats(switch, dev, True)
        assert notified() >= 1, "no notification for the request"
        nsim.write_knob(KNOB + "enable_ifindex", ifindex)
        assert notified() >= 1, "no notification when the driver started providing stats"
        assert notified() == 0  # negative control: nothing without a change
        nsim.write_knob(KNOB + "disable_ifindex", ifindex)
        assert notified() >= 1, "no notification when the driver stopped"
        l3_stats(switch, dev, False)
        assert notified() >= 1, "no notification for the withdrawal"
    finally:
        sock.close()


def test_debugfs_rejects_bad_ifindexes(switch, nsim, port):
    dev, ifindex = port
    assert nsim.knob_errno(KNOB + "enable_ifindex", "abc") == errno.EINVAL
    assert nsim.knob_errno(KNOB + "enable_ifindex", 999999) == errno.ENODEV
    assert nsim.knob_errno(KNOB + "disable_ifindex", ifindex) == errno.ENOENT  # not enabled
    assert nsim.knob_errno(KNOB + "fail_next_enable", ifindex) == errno.ENOENT
    assert nsim.knob_errno(KNOB + "enable_ifindex", ifindex) == 0
    assert nsim.knob_errno(KNOB + "enable_ifindex", ifindex) == 0  # idempotent
    assert nsim.knob_errno(KNOB + "disable_ifindex", ifindex) == 0
    assert switch.ip("stats", "set", "dev", dev, "l3_stats", "maybe", check=False).returncode != 0


@pytest.mark.topology("switchdev-hwstat")
def test_failure_in_one_driver_rolls_back_the_others(topo: LiveTopology):
    dut = topo["dut"]
    dirs = [f"/sys/kernel/debug/netdevsim/netdevsim{topo.netdevsim_id('dut', n)}/{KNOB}" for n in ("nsim0", "nsim1", "nsim2")]
    ifindex = dut.link("swp1")["index"]

    def write(path: str, value: int) -> None:
        with open(path, "w") as f:
            f.write(str(value))

    def state() -> tuple[bool, bool]:
        i = sd.l3_info(dut.json(["ip", "-j", "stats", "show", "dev", "swp1", "group", "offload", "subgroup", "hw_stats_info"]))
        return i.request, i.used

    for d in dirs:
        write(d + "enable_ifindex", ifindex)
    write(dirs[1] + "fail_next_enable", ifindex)
    proc = dut.run(["ip", "stats", "set", "dev", "swp1", "l3_stats", "on"], check=False)
    assert proc.returncode != 0 and sd.extack(proc.stderr) == FAIL_MSG, proc.stderr
    assert state() == (False, False)
    dut.run(["ip", "stats", "set", "dev", "swp1", "l3_stats", "on"])
    assert state() == (True, True)
    stats = sd.l3_counters(dut.json(["ip", "-j", "stats", "show", "dev", "swp1", "group", "offload", "subgroup", "l3_stats"]))
    assert stats is not None
    dut.run(["ip", "stats", "set", "dev", "swp1", "l3_stats", "off"])
    for d in reversed(dirs):
        write(d + "disable_ifindex", ifindex)
