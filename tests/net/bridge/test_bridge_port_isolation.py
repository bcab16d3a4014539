"""Port isolation: isolated ports do not talk to each other, only to
non-isolated ports. Reference: bridge_port_isolation.sh (ping_ipv4,
ping_ipv6, flooding). Topology bridge-3hosts: p1 and p2 isolated, p3 not.
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker

pytestmark = [
    pytest.mark.topology("bridge-3hosts"),
    pytest.mark.requires(kconfig=["PACKET"], tools=["bridge", "ping"]),
]


def ping(node, target: str) -> bool:
    return node.run(["ping", "-c", "1", "-W", "1", "-q", target], check=False).returncode == 0


def isolate(sw) -> None:
    sw.batch("bridge", ["link set dev p1 isolated on", "link set dev p2 isolated on"])
    assert [sw.port_flags(p)["isolated"] for p in sw.ports] == [True, True, False]


@pytest.mark.parametrize("family", ["-4", "-6"], ids=["ipv4", "ipv6"])
def test_isolated_ports_reach_only_non_isolated_ones(switch, family):
    sw = switch
    h1, h2, h3 = (sw.host(p) for p in sw.ports)
    addr = {p: [str(a.ip) for a in sw.host(p).addresses("eth0")
                if a.version == int(family[1]) and not a.ip.is_link_local][0] for p in sw.ports}
    assert ping(h1, addr["p2"]), "control: h1 and h2 talk before isolation"
    isolate(sw)
    h1.run(["ip", "neigh", "flush", "dev", "eth0"])
    assert not ping(h1, addr["p2"]), "isolated p1 reached isolated p2"
    assert ping(h1, addr["p3"]), "isolated p1 could not reach non-isolated p3"
    assert ping(h3, addr["p2"]), "non-isolated p3 could not reach isolated p2"


def test_flooding_from_an_isolated_port_skips_isolated_ports(switch):
    sw = switch
    isolate(sw)
    src = sw.host_mac("p1")
    kinds = {"unknown unicast": "02:4e:fe:00:00:01", "broadcast": brlib.BROADCAST, "multicast": "01:00:5e:01:02:04"}
    markers = {kind: new_marker() for kind in kinds}
    with sw.tap("p2") as t2, sw.tap("p3") as t3:
        sw.send("p1", [brlib.ether(dst, src, 0x88B5, markers[k]) for k, dst in kinds.items()])
        for kind, marker in markers.items():
            assert t3.wait_for(marker) == 1, f"{kind} from isolated p1 did not reach p3"
        for kind, marker in markers.items():
            assert t2.count(marker, settle=0.05) == 0, f"{kind} from isolated p1 reached isolated p2"
    # A non-isolated source floods to every port (control of the control).
    marker = new_marker()
    with sw.tap("p1") as t1, sw.tap("p2") as t2:
        sw.send("p3", [brlib.ether(brlib.BROADCAST, sw.host_mac("p3"), 0x88B5, marker)])
        assert t1.wait_for(marker) == 1 and t2.wait_for(marker) == 1


def test_isolation_turns_off_and_invalid_value_is_rejected(switch):
    sw = switch
    isolate(sw)
    sw.fails(["bridge", "link", "set", "dev", "p1", "isolated", "perhaps"])
    assert sw.port_flags("p1")["isolated"] is True
    sw.set_port("p1", isolated="off")
    marker = new_marker()
    with sw.tap("p2") as t2:
        sw.send("p1", [brlib.ether(brlib.BROADCAST, sw.host_mac("p1"), 0x88B5, marker)])
        assert t2.wait_for(marker) == 1, "p1 no longer isolated, yet p2 got nothing"
