"""The bridge suite's switch under test (``Switch``): the bridge and the hosts cabled to
its ports, commands in the switch's namespace, frames sent and captured in the hosts'.

Frames are sent and captured in-process with packet sockets living in the
hosts' namespaces (no process per frame: under TCG a process costs about
0.3 s); captures keep the VLAN tag (``suitelib.packets.FrameTap``).
Everything parsed is parsed by ``suitelib/bridge.py`` (pure, unit-tested).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.run import run as run_command
from harness.topology.live import LiveNode, LiveTopology
from suitelib import bridge as brlib
from suitelib.packets import FrameTap
from suitelib.ports import SwitchHardware

SOFTWARE_NO_OFFLOAD = "software bridge ports do not offload"


@dataclass
class Switch:
    """The bridge under test and the hosts cabled to its ports."""

    topo: LiveTopology
    node: LiveNode  # the switch's namespace
    bridge: str
    ports: tuple[str, ...]  # switch-side names, in link order (p1, p2, p3)
    cabling: dict[str, tuple[str, str]]  # port -> (host node, host interface)
    hardware: SwitchHardware | None = None

    # --- who is where ------------------------------------------------------------

    def host(self, port: str) -> LiveNode:
        return self.topo[self.cabling[port][0]]

    def host_ifname(self, port: str) -> str:
        return self.cabling[port][1]

    def host_mac(self, port: str) -> str:
        return self.host(port).link(self.host_ifname(port))["mac"].lower()

    def host_ip(self, port: str) -> str:
        addrs = [a for a in self.host(port).addresses(self.host_ifname(port)) if a.version == 4]
        assert addrs, f"{self.cabling[port]} has no IPv4 address"
        return str(addrs[0].ip)

    def require_offload(self) -> None:
        if self.hardware is None:
            pytest.skip(SOFTWARE_NO_OFFLOAD)

    # --- commands in the switch --------------------------------------------------
    #
    # harness.run gives ``ip``/``bridge`` their own ``-n NS``: one process per
    # command instead of two, about 0.3 s a command under TCG.

    def run(self, argv: list[str], check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_command(argv, netns=self.node.netns, check=check, input=input, where=self.node.name)

    def json(self, argv: list[str]) -> Any:
        return run_command(argv, netns=self.node.netns, json=True, where=self.node.name)

    def batch(self, tool: str, lines: Iterable[str]) -> None:
        """Several ``bridge``/``ip`` commands in one process (``-batch -``)."""
        self.run([tool, "-batch", "-"], input="\n".join(lines) + "\n")

    def fails(self, argv: list[str]) -> str:
        """Run a command that must be rejected; return its stderr."""
        proc = self.run(argv, check=False)
        assert proc.returncode != 0, f"{' '.join(argv)} was accepted but must be rejected"
        return proc.stderr.strip()

    def set_port(self, port: str, **flags: str | int) -> None:
        argv = ["bridge", "link", "set", "dev", port]
        for key, value in flags.items():
            argv += [key, str(value)]
        self.run(argv)

    def set_bridge(self, **options: str | int) -> None:
        argv = ["ip", "link", "set", "dev", self.bridge, "type", "bridge"]
        for key, value in options.items():
            argv += [key, str(value)]
        self.run(argv)

    def port_flags(self, port: str) -> dict[str, Any]:
        return brlib.port_flags(self.json(["bridge", "-j", "-d", "link", "show", "dev", port]), port)

    def options(self) -> dict[str, Any]:
        """The bridge's options by iproute2's names, read over rtnetlink (no process)."""
        replies = self.rtnl(brlib.get_link(self.ifindex(self.bridge)))
        return brlib.parse_bridge_attrs(brlib.bridge_data(replies[0].payload))

    def fdb(self) -> list[brlib.FdbEntry]:
        return brlib.parse_fdb(self.json(["bridge", "-j", "fdb", "show", "br", self.bridge]))

    def mdb(self) -> list[brlib.MdbEntry]:
        return brlib.parse_mdb(self.json(["bridge", "-j", "-d", "mdb", "show", "dev", self.bridge]))

    def vlans(self, port: str) -> dict[int, set[str]]:
        return brlib.parse_vlans(self.json(["bridge", "-j", "vlan", "show", "dev", port]), port)

    def flush_fdb(self) -> None:
        self.run(["bridge", "fdb", "flush", "dev", self.bridge, "dynamic"])

    # --- raw rtnetlink for what iproute2 6.1 cannot set -----------------------------------

    def rtnl(self, message: bytes) -> list[brlib.NetlinkReply]:
        with contextlib.closing(self.node.netlink_socket(0)) as sock:  # NETLINK_ROUTE
            sock.settimeout(10)
            sock.send(message)
            return brlib.parse_replies(sock.recv(65536))

    def fdb_netlink(self) -> list[brlib.NeighFdb]:
        """Every FDB entry as the kernel sends it (with NDA_FLAGS_EXT, e.g. ``locked``)."""
        out: list[brlib.NeighFdb] = []
        with contextlib.closing(self.node.netlink_socket(0)) as sock:
            sock.settimeout(10)
            sock.send(brlib.fdb_dump_request())
            while True:
                replies = brlib.parse_replies(sock.recv(1 << 20))
                for reply in replies:
                    if reply.kind == brlib.NLMSG_DONE:
                        return out
                    if reply.kind == brlib.NLMSG_ERROR:
                        raise OSError(-reply.error, f"FDB dump failed: {reply.message}")
                    if reply.kind == brlib.RTM_NEWNEIGH:
                        out.append(brlib.parse_neigh(reply.payload))
                if not replies:
                    return out

    def locked_entries(self) -> dict[str, str]:
        """MAC -> port of the FDB entries flagged locked (MAB)."""
        names = {self.ifindex(p): p for p in self.ports}
        return {e.mac: names.get(e.ifindex, str(e.ifindex)) for e in self.fdb_netlink() if e.locked}

    def ifindex(self, name: str) -> int:
        return self.node.link(name)["index"]

    def set_bridge_u32(self, attr: int, value: int) -> brlib.NetlinkReply:
        """Set an IFLA_BR_* u32 option; returns the ACK (error 0) or the error."""
        return self.rtnl(brlib.set_bridge_u32(self.ifindex(self.bridge), attr, value))[0]

    def bridge_u32(self, attr: int) -> int | None:
        replies = self.rtnl(brlib.get_link(self.ifindex(self.bridge)))
        data = brlib.bridge_data(replies[0].payload)
        return brlib.u32(data[attr]) if attr in data else None

    def set_port_u8(self, port: str, attr: int, value: int) -> brlib.NetlinkReply:
        return self.rtnl(brlib.set_port_u8(self.ifindex(port), attr, value))[0]

    def set_port_u32(self, port: str, attr: int, value: int) -> brlib.NetlinkReply:
        return self.rtnl(brlib.set_port_u32(self.ifindex(port), attr, value))[0]

    # --- frames ------------------------------------------------------------------

    def send(self, port: str, frames: Iterable[bytes]) -> None:
        """Send raw Ethernet frames out of the host cabled to ``port``."""
        sock = self.host(port).socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            sock.bind((self.host_ifname(port), 0))
            for frame in frames:
                sock.send(frame)
        finally:
            sock.close()

    def tap(self, port: str) -> FrameTap:
        return FrameTap(self.host(port), self.host_ifname(port))
