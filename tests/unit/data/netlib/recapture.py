"""Recapture the samples in this directory (needs root: builds topologies).

Run from the repository root: ``PYTHONPATH=. python tests/unit/data/netlib/recapture.py``.
The unit tests pin values of the current capture (MACs, byte counts, tokens):
update tests/unit/test_net_lib.py and README.md together with the files.
"""

from __future__ import annotations

import socket
from pathlib import Path

from harness.topology import load_topology
from harness.topology.live import LiveTopology
from suitelib import mptcp
from suitelib.transfer import exchange
from suitelib.wait import poll

OUT = Path(__file__).resolve().parent
TOPOLOGIES = Path("topologies")
SIZE = 4 << 20


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)
    print("wrote", name, len(text))


def listener(node, proto: int, port: int) -> socket.socket:
    sock = node.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.bind(("0.0.0.0", port))
    sock.listen(1)
    return sock


def mptcp_two_subflows() -> None:
    with LiveTopology.up(load_topology(TOPOLOGIES / "mptcp-2path.yaml")) as t:
        c1, s1 = t["c1"], t["s1"]

        def grab() -> None:
            save("ss_tin_mptcp_two_subflows_client.txt", c1.run(["ss", "-tin"]).stdout)
            save("ss_tin_mptcp_two_subflows_server.txt", s1.run(["ss", "-tin"]).stdout)
            save("ss_Min_mptcp_client.txt", c1.run(["ss", "-Min"]).stdout)

        with listener(s1, mptcp.IPPROTO_MPTCP, 5201) as lst:
            exchange(
                lst, c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP), ("10.0.1.2", 5201), SIZE,
                after_greeting=lambda: poll(lambda: mptcp.subflows(c1, 5201), lambda s: len(s) >= 2, timeout=5),
                while_open=grab,
            )
        save("nstat_mptcp_two_subflows_server.json", s1.run(["nstat", "-jasz"]).stdout)
        save("nstat_mptcp_two_subflows_client.json", c1.run(["nstat", "-jasz"]).stdout)


def fallbacks() -> None:
    with LiveTopology.up(load_topology(TOPOLOGIES / "mptcp-2path.yaml")) as t:
        c1, s1 = t["c1"], t["s1"]
        with listener(s1, mptcp.IPPROTO_MPTCP, 5201) as lst:
            exchange(
                lst, c1.socket(socket.AF_INET, socket.SOCK_STREAM, 0), ("10.0.1.2", 5201), 1 << 16,
                while_open=lambda: save("ss_tin_plain_client_on_mptcp_listener_server.txt", s1.run(["ss", "-tin"]).stdout),
            )
        with listener(s1, 0, 5202) as lst:
            exchange(
                lst, c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP), ("10.0.1.2", 5202), 1 << 16,
                while_open=lambda: save("ss_Min_fallback_client.txt", c1.run(["ss", "-Min"]).stdout),
            )
        save("nstat_fallback_client.json", c1.run(["nstat", "-jasz"]).stdout)


def bridge_and_ipv6() -> None:
    with LiveTopology.up(load_topology(TOPOLOGIES / "bridge-3hosts.yaml")) as t:
        sw, h1, h2, h3 = t["sw"], t["h1"], t["h2"], t["h3"]
        for target in ("10.0.0.2", "10.0.0.3"):
            h1.run(["ping", "-c", "1", "-W", "2", target])
        save("bridge_fdb_learned.json", sw.run(["bridge", "-j", "fdb", "show", "br", "br0"]).stdout)
        sw.run(["ip", "link", "set", "dev", "br0", "type", "bridge", "fdb_flush"])
        save("bridge_fdb_flushed.json", sw.run(["bridge", "-j", "fdb", "show", "br", "br0"]).stdout)
        sw.run(["bridge", "link", "set", "dev", "p2", "learning", "off"])
        sw.run(["bridge", "link", "set", "dev", "p3", "flood", "off"])
        save("bridge_link_detail.json", sw.run(["bridge", "-j", "-d", "link", "show"]).stdout)
        save("ip_link_stats_eth0.json", h3.run(["ip", "-s", "-j", "link", "show", "dev", "eth0"]).stdout)
        # IPv6 TCP to a global and, bound to eth0, to a link-local address.
        link_local = next(a.ip for a in h2.addresses("eth0") if a.version == 6 and a.ip.is_link_local)
        with h2.socket(socket.AF_INET6, socket.SOCK_STREAM) as lst:
            lst.bind(("::", 5001))
            lst.listen(2)
            lst.settimeout(5)
            clients = [h1.socket(socket.AF_INET6, socket.SOCK_STREAM) for _ in range(2)]
            try:
                for c in clients:
                    c.settimeout(5)
                clients[0].connect(("2001:db8::2", 5001))
                clients[1].connect((str(link_local), 5001, 0, h1.link("eth0")["index"]))
                accepted = [lst.accept()[0] for _ in clients]
                save("ss_tin_ipv6.txt", h1.run(["ss", "-tin"]).stdout)
                for a in accepted:
                    a.close()
            finally:
                for c in clients:
                    c.close()


if __name__ == "__main__":
    mptcp_two_subflows()
    fallbacks()
    bridge_and_ipv6()
