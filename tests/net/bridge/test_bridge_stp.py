"""STP port states: only a forwarding port forwards, only learning and
forwarding ports learn, and user space may set states only while the
kernel's STP is off.

Topology bridge-3hosts. The states are set by hand (``bridge link set
state N``), as an STP daemon would; then the kernel's own STP is started
and must hold a port out of forwarding for its forward delay.
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]


def exchange(sw, src_mac: str) -> tuple[bool, bool]:
    """A broadcast from h2 with source ``src_mac``: (did h1 get it, did the bridge learn it on p2)."""
    marker, fence = new_marker(), new_marker()
    with sw.tap("p1") as t1:
        sw.send("p2", [brlib.ether(brlib.BROADCAST, src_mac, 0x88B5, marker)])
        # A fence frame through forwarding p3, sent after: once it is in, h2's
        # frame (same sending CPU, same receive backlog) would be too.
        sw.send("p3", [brlib.ether(brlib.BROADCAST, sw.host_mac("p3"), 0x88B5, fence)])
        assert t1.wait_for(fence, timeout=3) == 1, "the fence frame from p3 did not arrive"
        got = t1.count(marker, settle=0.02) == 1
    learned = any(e.mac == src_mac and e.ifname == "p2" for e in brlib.learned(sw.fdb()))
    return got, learned


@pytest.mark.parametrize(
    "state, forwards, learns",
    [("disabled", False, False), ("listening", False, False), ("learning", False, True),
     ("forwarding", True, True)],
)
def test_port_state_decides_forwarding_and_learning(switch, state, forwards, learns):
    sw = switch
    sw.set_port("p2", state=brlib.STP_STATES[state])
    assert sw.port_flags("p2")["state"] == state
    (mac,) = brlib.unique_macs(1, tag=0x30 + brlib.STP_STATES[state])
    got, learned = exchange(sw, mac)
    assert got is forwards, f"a port in state {state} {'did not forward' if forwards else 'forwarded'}"
    assert learned is learns, f"a port in state {state} {'did not learn' if learns else 'learned'}"


def test_forwarding_resumes_after_disabled_and_learning(switch):
    sw = switch
    for tag, state in enumerate(("disabled", "learning")):
        sw.set_port("p2", state=brlib.STP_STATES[state])
        assert exchange(sw, brlib.unique_macs(1, tag=0x36 + tag)[0])[0] is False
        sw.set_port("p2", state=brlib.STP_STATES["forwarding"])
        assert exchange(sw, brlib.unique_macs(2, tag=0x36 + tag)[1]) == (True, True), f"no forwarding after {state}"


def test_blocking_by_hand_without_stp_is_reevaluated_to_forwarding(switch):
    """Without STP every port is designated: the kernel's port state selection
    turns a hand-set blocking port back to forwarding at once."""
    sw = switch
    sw.set_port("p2", state=brlib.STP_STATES["blocking"])
    assert sw.port_flags("p2")["state"] == "forwarding"


def test_invalid_state_is_rejected(switch):
    sw = switch
    sw.fails(["bridge", "link", "set", "dev", "p2", "state", "5"])
    sw.fails(["bridge", "link", "set", "dev", "p2", "state", "not-a-state"])
    assert sw.port_flags("p2")["state"] == "forwarding"


def test_kernel_stp_holds_ports_back_and_owns_their_state(switch):
    sw = switch
    sw.set_bridge(forward_delay=200, stp_state=1)  # 2 s: listening 2 s, learning 2 s
    assert sw.options()["stp_state"] == 1
    # Re-enable the port so that it restarts from listening.
    sw.run(["ip", "link", "set", "dev", "p2", "down"])
    sw.run(["ip", "link", "set", "dev", "p2", "up"])
    state = sw.port_flags("p2")["state"]
    assert state in ("listening", "learning"), f"kernel STP put a fresh port straight into {state}"
    assert exchange(sw, brlib.unique_macs(1, tag=0x38)[0])[0] is False, "a port in listening forwarded"
    err = sw.fails(["bridge", "link", "set", "dev", "p2", "state", "3"])
    assert err, "setting a state by hand while kernel STP runs must fail"
    final = poll(lambda: sw.port_flags("p2")["state"], lambda s: s == "forwarding", timeout=15)
    assert final == "forwarding", "kernel STP never moved the port to forwarding"
    assert exchange(sw, brlib.unique_macs(1, tag=0x39)[0]) == (True, True)


def test_kernel_stp_blocks_a_loop_and_frames_cross_it_once(switch):
    """Two more ports cabled to each other make a loop; STP must block one of them."""
    sw = switch
    sw.batch("ip", [
        "link add lpa type veth peer name lpb",
        "link set dev lpa master br0", "link set dev lpb master br0",
    ])
    sw.set_bridge(forward_delay=200, hello_time=100, stp_state=1)
    sw.batch("ip", ["link set dev lpa up", "link set dev lpb up"])  # only once STP runs: no storm
    states = poll(
        lambda: {p: sw.port_flags(p)["state"] for p in ("lpa", "lpb")},
        lambda st: sorted(st.values()) == ["blocking", "forwarding"],
        timeout=20,
    )
    assert sorted(states.values()) == ["blocking", "forwarding"], f"STP did not break the loop: {states}"
    poll(lambda: sw.port_flags("p2")["state"], lambda s: s == "forwarding", timeout=15)
    marker = new_marker()
    with sw.tap("p2") as t2:
        sw.send("p1", [brlib.ether(brlib.BROADCAST, sw.host_mac("p1"), 0x88B5, marker)])
        assert t2.wait_for(marker, timeout=3) >= 1, "a broadcast did not cross the bridge"
        assert t2.count(marker, settle=0.3) == 1, "a broadcast came round the loop more than once"
