"""A built topology as tests see it: nodes to run commands, open sockets and
read interface state in.

Commands go through ``harness.run.run`` with the node's namespace: the child
sees the namespace's own /sys (``/sys/class/net``), as the kernel selftests'
tools expect. Sockets are created in-process and stay in the node's namespace.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


from .. import netns as nsutil
from ..run import in_netns, run
from .build import NETLINK_GENERIC, Applier, Journal, NamespaceHandle, build, netlink_socket, teardown
from .model import Node, Topology
from .state import LinkState, NodeState, TopologyState, kept_addresses, kept_routes

if TYPE_CHECKING:
    from pyroute2 import IPRoute


@dataclass
class LiveNode:
    name: str
    model: Node
    handle: NamespaceHandle

    @property
    def netns(self) -> str:
        """The kernel name of this node's namespace (``ip netns`` name)."""
        return self.handle.name

    @property
    def ipr(self) -> IPRoute:
        """A pyroute2 IPRoute bound to this node's namespace."""
        return self.handle.ipr

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as it runs inside this node (for ``popen`` and callers that spawn it themselves)."""
        return in_netns(argv, self.netns)

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the node; by default a non-zero exit fails the test (CommandError)."""
        return run(argv, netns=self.netns, check=check, timeout=timeout, input=input, where=self.name)

    def json(self, argv: Sequence[str]) -> Any:
        """Run a command with JSON output (``ip -j``, ``devlink -j``) and parse it."""
        return run(argv, netns=self.netns, json=True, where=self.name)

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(argv), **kwargs)

    def socket(self, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
        """A socket living in this node's namespace."""
        return nsutil.socket_in(self.handle.fd, family, type_, proto)

    def netlink_socket(self, proto: int = NETLINK_GENERIC) -> socket.socket:
        """A raw netlink socket in this node's namespace (generic netlink by default).

        For families pyroute2 has no client for (the MPTCP userspace PM
        commands, its event group): extended ACKs are on, so kernel error
        strings reach the test.
        """
        return netlink_socket(self.handle.fd, proto)

    def sysctl(self, key: str) -> str:
        return nsutil.read_sysctl(self.handle.fd, key)

    def set_sysctl(self, key: str, value: str | int) -> None:
        nsutil.write_sysctl(self.handle.fd, key, str(value))

    def link(self, ifname: str) -> dict[str, Any]:
        """State of one interface: index, name, mtu, mac, operstate, flags, master."""
        found = self.ipr.link("get", ifname=ifname)
        msg = found[0]
        return {
            "index": msg["index"],
            "ifname": msg.get_attr("IFLA_IFNAME"),
            "mtu": msg.get_attr("IFLA_MTU"),
            "mac": msg.get_attr("IFLA_ADDRESS"),
            "operstate": msg.get_attr("IFLA_OPERSTATE"),
            "up": bool(msg["flags"] & 0x1),
            "master": msg.get_attr("IFLA_MASTER"),
            "kind": (msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")),
        }

    def addresses(self, ifname: str) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
        """Addresses on one interface, as ``ipaddress`` interface objects."""
        index = self.link(ifname)["index"]
        return [
            ipaddress.ip_interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
            for a in self.ipr.get_addr(index=index)
        ]


def node_state(node: LiveNode, default_sysctls: tuple[tuple[str, str], ...] = ()) -> NodeState:
    """The node's links, addresses, main-table routes and topology sysctls right now (see state.py)."""
    names: dict[int, str] = {}
    links = []
    raw_links = node.ipr.get_links()
    for msg in raw_links:
        names[msg["index"]] = msg.get_attr("IFLA_IFNAME")
    for msg in raw_links:
        master = msg.get_attr("IFLA_MASTER")
        links.append(LinkState(
            ifname=msg.get_attr("IFLA_IFNAME"), up=bool(msg["flags"] & 1), mtu=msg.get_attr("IFLA_MTU"),
            master=names.get(master) if master else None, mac=msg.get_attr("IFLA_ADDRESS"),
        ))
    addresses = kept_addresses(
        (names.get(a["index"], str(a["index"])), f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
        for a in node.ipr.get_addr()
    )
    routes = []
    for r in node.ipr.get_routes(table=254):
        dst = r.get_attr("RTA_DST")
        family_default = "0.0.0.0" if r["family"] == socket.AF_INET else "::"
        routes.append((f"{dst or family_default}/{r['dst_len']}", str(r.get_attr("RTA_GATEWAY") or ""),
                       names.get(r.get_attr("RTA_OIF"), "")))
    keys = list(dict.fromkeys(key for key, _ in (*default_sysctls, *node.model.sysctls)))
    sysctls = []
    for key in keys:
        try:
            sysctls.append((key, node.sysctl(key)))
        except OSError:
            sysctls.append((key, "<unreadable>"))
    return NodeState(links=frozenset(links), addresses=addresses, routes=kept_routes(routes), sysctls=tuple(sysctls))


class LiveTopology:
    """A topology built for one run. Use as a context manager, or call down()."""

    def __init__(self, topology: Topology, journal: Journal, applier: Applier) -> None:
        self.topology = topology
        self.journal = journal
        self._applier = applier
        self.nodes = {
            n.name: LiveNode(name=n.name, model=n, handle=applier.handles[n.name]) for n in topology.nodes
        }

    @classmethod
    def up(cls, topology: Topology, run_id: str | None = None) -> "LiveTopology":
        journal, applier = build(topology, run_id)
        return cls(topology, journal, applier)

    @property
    def run_id(self) -> str:
        return self.journal.run_id

    def node(self, name: str) -> LiveNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"topology {self.topology.name!r} has no node {name!r}; nodes: {sorted(self.nodes)}") from None

    def __getitem__(self, name: str) -> LiveNode:
        return self.node(name)

    def netdevsim_id(self, node: str, device: str) -> int:
        """The kernel id allocated to netdevsim device ``device`` of ``node``."""
        return self.journal.netdevsim[f"{node}/{device}"]

    def state(self) -> TopologyState:
        """Every node's state, for the check between tests that share this topology."""
        defaults = self.topology.default_sysctls
        return TopologyState(nodes={name: node_state(node, defaults) for name, node in self.nodes.items()})

    def down(self) -> list[str]:
        self._applier.close()
        return teardown(self.journal)

    def __enter__(self) -> "LiveTopology":
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
