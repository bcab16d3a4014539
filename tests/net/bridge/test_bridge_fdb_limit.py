"""The FDB learning limit (IFLA_BR_FDB_MAX_LEARNED, Linux 6.7+) and its counter.

iproute2 6.1 knows neither ``fdb_max_learned`` nor ``fdb_n_learned`` (both
came in iproute2 6.8), so the tests set and read them over rtnetlink
(``suitelib/bridge.py`` encodes the messages). A kernel without the
attribute skips, naming it. Reference: bridge_fdb_learning_limit.sh
(check_accounting, check_limit).
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]

LIMIT = 3
SOURCES = 10


def frames(macs):
    return [brlib.ether(brlib.BROADCAST, mac, 0x88B5, new_marker()) for mac in macs]


def n_learned(sw) -> int | None:
    return sw.bridge_u32(brlib.IFLA_BR_FDB_N_LEARNED)


@pytest.fixture
def limited(switch):
    """The switch, with IPv6 quiet on the hosts (no learning from their chatter)
    and the kernel's support for the limit checked."""
    if switch.bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED) is None:
        pytest.skip("kernel lacks IFLA_BR_FDB_MAX_LEARNED (bridge FDB learning limit, Linux 6.7+)")
    for port in switch.ports:
        switch.host(port).set_sysctl(f"net.ipv6.conf.{switch.host_ifname(port)}.disable_ipv6", 1)
    switch.flush_fdb()
    return switch


def test_iproute2_support_for_fdb_max_learned(switch):
    """Uses iproute2 when it can; otherwise says which iproute2 lacks it (the
    other tests go through netlink either way)."""
    proc = switch.run(["ip", "link", "set", "dev", "br0", "type", "bridge", "fdb_max_learned", "5"], check=False)
    if proc.returncode != 0:
        pytest.skip(f"iproute2 cannot set fdb_max_learned (needs iproute2 6.8+): {proc.stderr.strip().splitlines()[0]}")
    assert switch.options()["fdb_max_learned"] == 5


def test_learned_entries_are_counted_and_user_entries_are_not(limited):
    sw = limited
    assert sw.bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED) == 0, "default must be 0 (no limit)"
    macs = brlib.unique_macs(SOURCES, tag=0x10)
    static = brlib.unique_macs(2, tag=0x11)
    sw.batch("bridge", [f"fdb add {static[0]} dev p2 master static", f"fdb add {static[1]} dev p3 master"])
    sw.send("p1", frames(macs))
    count = poll(lambda: n_learned(sw), lambda n: n == SOURCES, timeout=3)
    assert count == SOURCES, f"fdb_n_learned {count}, learned {len(brlib.learned(sw.fdb()))}"
    assert len([e for e in brlib.learned(sw.fdb()) if e.mac in macs]) == SOURCES
    sw.flush_fdb()
    assert n_learned(sw) == 0, "the counter did not drop with a flush"
    assert {e.mac for e in sw.fdb() if e.master} >= set(static), "the flush removed user-added entries"


def test_limit_caps_learning_and_flush_makes_room(limited):
    sw = limited
    reply = sw.set_bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED, LIMIT)
    assert reply.error == 0, f"setting fdb_max_learned failed: {reply.error} {reply.message}"
    assert sw.bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED) == LIMIT

    first = brlib.unique_macs(SOURCES, tag=0x12)
    sw.send("p1", frames(first))
    assert poll(lambda: n_learned(sw), lambda n: n == LIMIT, timeout=3) == LIMIT
    learned = [e.mac for e in brlib.learned(sw.fdb())]
    assert len(learned) == LIMIT and set(learned) <= set(first), learned

    # User-added entries are not subject to the limit.
    extra = brlib.unique_macs(2, tag=0x13)
    sw.batch("bridge", [f"fdb add {mac} dev p2 master static" for mac in extra])
    assert {e.mac for e in sw.fdb() if e.state == "static"} >= set(extra)

    sw.flush_fdb()
    second = brlib.unique_macs(2, tag=0x14)
    sw.send("p3", frames(second))
    assert poll(lambda: n_learned(sw), lambda n: n == 2, timeout=3) == 2, "a flush did not make room"


def test_limit_zero_means_unlimited(limited):
    """Negative control for the cap: back at 0, every source is learned again."""
    sw = limited
    assert sw.set_bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED, 1).error == 0
    assert sw.set_bridge_u32(brlib.IFLA_BR_FDB_MAX_LEARNED, 0).error == 0
    macs = brlib.unique_macs(SOURCES, tag=0x15)
    sw.send("p1", frames(macs))
    assert poll(lambda: n_learned(sw), lambda n: n == SOURCES, timeout=3) == SOURCES


def test_fdb_n_learned_is_read_only(limited):
    reply = limited.set_bridge_u32(brlib.IFLA_BR_FDB_N_LEARNED, 7)
    assert reply.error != 0, "the kernel accepted a write to fdb_n_learned"
    assert n_learned(limited) == 0
