"""MPTCP over two paths, its negative control, and fallback to plain TCP.

Topology mptcp-2path: c1 and s1 joined by two veth links, 10.0.1.0/24 (eth0)
and 10.0.2.0/24 (eth1). c1 has an MPTCP endpoint 10.0.2.1 dev eth1 with the
``subflow`` flag and both sides allow 2 subflows, so a connection from c1 to
10.0.1.2 should open a second subflow 10.0.2.1 -> 10.0.1.2 bound to eth1.
mptcp-2path-noep is the same without the endpoint.

Every transfer moves SIZE random bytes each way and checks sha256 on both
ends. "Both paths carried data" is proved three ways: per-subflow byte
counters (``ss -tin``), per-link byte counters (``ip -s link``), and the
MP_JOIN MIB counters (``nstat``).

Measured on the 6.18 host (2 CPUs, veth, no shaping): the second subflow is
up within ~10 ms of the first data exchange, a 4 MiB transfer each way takes
0.2-0.4 s, and the default scheduler gave each subflow 30-70 % of the bytes
in each direction (never under 14 % in 40 runs with the CPUs oversubscribed
three times over). MIN_SHARE (5 %) leaves a margin under that; no traffic
shaping is needed (this kernel has no netem anyway).
"""

from __future__ import annotations

import socket

import pytest

from suitelib import mptcp, nstat
from suitelib.packets import link_stats
from suitelib.transfer import exchange
from suitelib.wait import poll

pytestmark = pytest.mark.topology("mptcp-2path")
# ss -t needs TCP socket diag, ss -M the MPTCP one; nstat reads the MIB counters.
observes = pytest.mark.requires(kconfig=["INET_TCP_DIAG", "INET_MPTCP_DIAG"], tools=["ss", "nstat"])

PORT = 5201
SERVER = ("10.0.1.2", PORT)
SIZE = 4 << 20
MIN_SHARE = SIZE // 20  # bytes each subflow (and each link) must carry per direction
JOIN_WAIT = 5.0  # seconds for the second subflow to come up

JOIN_COUNTERS = ("MPTcpExtMPJoinSynTx", "MPTcpExtMPJoinSynRx", "MPTcpExtMPJoinSynAckRx", "MPTcpExtMPJoinAckRx")
CAPABLE_COUNTERS = ("MPTcpExtMPCapableSYNTX", "MPTcpExtMPCapableSYNRX", "MPTcpExtMPCapableSYNACKRX",
                    "MPTcpExtMPCapableACKRX", "MPTcpExtMPCapableFallbackACK", "MPTcpExtMPCapableFallbackSYNACK")


def listen(node, proto: int = mptcp.IPPROTO_MPTCP) -> socket.socket:
    sock = node.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    try:
        sock.bind(("0.0.0.0", PORT))
        sock.listen(1)
    except BaseException:
        sock.close()
        raise
    return sock


def mib(node) -> dict[str, int]:
    return nstat.counters(node, "MPTcpExt")


def established_subflows(node) -> list[mptcp.Subflow]:
    return [s for s in mptcp.subflows(node, PORT) if s.fully_established]


def describe(subflows: list[mptcp.Subflow]) -> str:
    return "; ".join(
        f"{s.local}->{s.peer} [{s.flags}] acked={s.bytes_acked} received={s.bytes_received}" for s in subflows
    )


def test_topology_configures_endpoint_and_limits(topo):
    """Precondition of the tests below, checked separately so a loader bug reads as one."""
    endpoints = topo["c1"].json(["ip", "-j", "mptcp", "endpoint", "show"])
    assert [(e["address"], e.get("dev"), bool(e.get("subflow"))) for e in endpoints] == [("10.0.2.1", "eth1", True)]
    for name in ("c1", "s1"):
        limits = topo[name].run(["ip", "mptcp", "limits", "show"]).stdout.split()
        assert limits[limits.index("subflows") + 1] == "2", f"{name}: {limits}"


@observes
def test_transfer_uses_both_paths(topo):
    c1, s1 = topo["c1"], topo["s1"]
    mib_before = {"c1": mib(c1), "s1": mib(s1)}
    links_before = {ifname: link_stats(c1, ifname) for ifname in ("eth0", "eth1")}

    def second_subflow_up() -> None:
        seen = poll(lambda: established_subflows(c1), lambda s: len(s) >= 2, timeout=JOIN_WAIT)
        assert len(seen) >= 2, f"no second subflow within {JOIN_WAIT} s: {describe(seen)}"

    with listen(s1) as listener:
        result = exchange(
            listener,
            c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP),
            SERVER,
            SIZE,
            after_greeting=second_subflow_up,
            while_open=lambda: (mptcp.subflows(c1, PORT), mptcp.subflows(s1, PORT), mptcp.connections(c1, PORT)),
        )
    client_subflows, server_subflows, connections = result.observed

    assert result.content_ok, "data corrupted in transit"
    assert result.client_mptcp and result.server_mptcp, "the connection fell back to TCP"
    assert len(connections) == 1 and connections[0].subflows == 1 and not connections[0].fallback, connections

    assert len(client_subflows) == 2, describe(client_subflows)
    assert len(server_subflows) == 2, describe(server_subflows)
    initial = [s for s in client_subflows if s.is_initial]
    joined = [s for s in client_subflows if s.is_join]
    assert len(initial) == 1 and len(joined) == 1, describe(client_subflows)
    assert initial[0].local.host == "10.0.1.1"
    assert (joined[0].local.host, joined[0].local.device) == ("10.0.2.1", "eth1"), "join not from the endpoint"
    for sub in client_subflows:
        assert sub.bytes_acked >= MIN_SHARE, f"subflow carried too little upstream: {describe(client_subflows)}"
        assert sub.bytes_received >= MIN_SHARE, f"subflow carried too little downstream: {describe(client_subflows)}"
    assert sum(s.bytes_acked for s in client_subflows) >= SIZE
    assert sum(s.bytes_received for s in client_subflows) >= SIZE

    for ifname, before in links_before.items():
        moved = link_stats(c1, ifname) - before
        assert moved.tx_bytes >= MIN_SHARE and moved.rx_bytes >= MIN_SHARE, f"c1 {ifname} barely used: {moved}"

    c1_mib = nstat.delta(mib_before["c1"], mib(c1), JOIN_COUNTERS + CAPABLE_COUNTERS)
    s1_mib = nstat.delta(mib_before["s1"], mib(s1), JOIN_COUNTERS + CAPABLE_COUNTERS)
    assert c1_mib["MPTcpExtMPCapableSYNTX"] == 1 and c1_mib["MPTcpExtMPCapableSYNACKRX"] == 1, c1_mib
    assert s1_mib["MPTcpExtMPCapableSYNRX"] == 1 and s1_mib["MPTcpExtMPCapableACKRX"] == 1, s1_mib
    assert c1_mib["MPTcpExtMPJoinSynAckRx"] == 1, c1_mib
    assert s1_mib["MPTcpExtMPJoinSynRx"] == 1 and s1_mib["MPTcpExtMPJoinAckRx"] == 1, s1_mib
    for counters in (c1_mib, s1_mib):
        assert counters["MPTcpExtMPCapableFallbackACK"] == counters["MPTcpExtMPCapableFallbackSYNACK"] == 0


@observes
@pytest.mark.topology("mptcp-2path-noep")
def test_without_endpoint_one_subflow_carries_everything(topo):
    c1, s1 = topo["c1"], topo["s1"]
    mib_before = {"c1": mib(c1), "s1": mib(s1)}
    eth1_before = link_stats(c1, "eth1")
    with listen(s1) as listener:
        result = exchange(
            listener,
            c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP),
            SERVER,
            SIZE,
            while_open=lambda: (mptcp.subflows(c1, PORT), mptcp.subflows(s1, PORT)),
        )
    client_subflows, server_subflows = result.observed

    assert result.content_ok, "data corrupted in transit"
    assert result.client_mptcp and result.server_mptcp, "expected MPTCP, with one subflow"
    assert len(client_subflows) == 1 and client_subflows[0].is_initial, describe(client_subflows)
    assert len(server_subflows) == 1, describe(server_subflows)
    only = client_subflows[0]
    assert only.bytes_acked >= SIZE and only.bytes_received >= SIZE, describe(client_subflows)
    # eth1 may carry a few hundred bytes of IPv6 link-local chatter, not the transfer.
    assert (link_stats(c1, "eth1") - eth1_before).tx_bytes < MIN_SHARE

    for name, node in (("c1", c1), ("s1", s1)):
        moved = nstat.delta(mib_before[name], mib(node), JOIN_COUNTERS)
        assert nstat.nonzero(moved) == {}, f"{name}: MP_JOIN counters moved without an endpoint: {moved}"
    assert nstat.delta(mib_before["s1"], mib(s1), ["MPTcpExtMPCapableSYNRX"]) == {"MPTcpExtMPCapableSYNRX": 1}


@observes
def test_plain_tcp_client_falls_back_on_mptcp_listener(topo):
    c1, s1 = topo["c1"], topo["s1"]
    s1_before = mib(s1)
    with listen(s1) as listener:
        result = exchange(
            listener,
            c1.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP),
            SERVER,
            SIZE,
            while_open=lambda: (mptcp.tcp_sockets(s1, PORT), mptcp.connections(s1, PORT)),
        )
    server_tcp, server_mptcp = result.observed

    assert result.content_ok, "data corrupted in transit"
    assert result.server_mptcp is False, "the accepted socket claims MPTCP for a plain TCP peer"
    assert len(server_tcp) == 1, server_tcp
    assert server_tcp[0].ulp is None, f"server socket still runs the MPTCP ULP: {server_tcp[0]}"
    assert server_mptcp == [], f"ss -M lists an MPTCP connection: {server_mptcp}"
    moved = nstat.delta(s1_before, mib(s1), JOIN_COUNTERS + CAPABLE_COUNTERS)
    assert nstat.nonzero(moved) == {}, f"a plain TCP handshake moved MPTCP counters: {moved}"


@observes
def test_mptcp_client_falls_back_on_plain_tcp_listener(topo):
    c1, s1 = topo["c1"], topo["s1"]
    c1_before = mib(c1)
    with listen(s1, socket.IPPROTO_TCP) as listener:
        result = exchange(
            listener,
            c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP),
            SERVER,
            SIZE,
            while_open=lambda: mptcp.connections(c1, PORT),
        )
    assert result.content_ok, "data corrupted in transit"
    assert result.client_mptcp is False, "client socket still claims MPTCP after a SYN-ACK without MP_CAPABLE"
    assert [c.fallback for c in result.observed] == [True], result.observed
    moved = nstat.delta(c1_before, mib(c1), JOIN_COUNTERS + CAPABLE_COUNTERS)
    assert moved["MPTcpExtMPCapableSYNTX"] == 1, moved
    assert moved["MPTcpExtMPCapableFallbackSYNACK"] == 1, moved
    assert moved["MPTcpExtMPCapableSYNACKRX"] == 0 and nstat.nonzero({k: moved[k] for k in JOIN_COUNTERS}) == {}, moved
