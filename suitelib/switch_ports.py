"""Lending real switch ports to a topology in place of its veth cables.

A bridge suite's topology cables host ``hN:eth0`` to switch port ``sw:pN``
with a veth pair. When the user declares real ports (``suitelib.ports``:
``NETHARNESS_SWITCH_PORTS`` and ``NETHARNESS_SWITCH_PEERS``), the i-th such
link is replaced by the i-th real port and its loopback peer: the veth pair
is deleted, the real port moves into the switch node under the veth's name
(``p1``) and its peer into the host node under the host's name (``eth0``),
so the tests run unchanged. Afterwards both go back to the initial namespace
under their own names.

``plan_loans`` is pure (unit-tested); ``lend`` does the moving, with ``ip``
commands as argv lists. Configuring the moved ports (bridge membership,
VLANs, addresses) is the suite's business: it knows its topology.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from harness.run import CommandError, run
from .ports import PEERS_ENV, PORTS_ENV, PortContractError, SwitchHardware
from harness.topology.model import Topology

INIT_NETNS_PID = "1"  # `ip link set ... netns 1`: the namespace of PID 1, the initial one


@dataclass(frozen=True)
class PortLoan:
    """One real port and its peer standing in for one veth link of the topology."""

    real_port: str  # switch port netdev in the initial namespace (swp1)
    port_name: str  # its name inside the switch node (p1)
    peer: str  # the netdev cabled to it, in the initial namespace (enp1s0)
    host: str  # the node the peer moves into (h1)
    host_ifname: str  # its name there (eth0)


def switch_links(topology: Topology, switch_node: str) -> list[tuple[str, str, str]]:
    """(switch interface, host node, host interface) of every link that ends
    on ``switch_node``, in file order."""
    out = []
    for link in topology.links:
        for near, far in ((link.a, link.b), (link.b, link.a)):
            if near.node == switch_node and far.node != switch_node:
                out.append((near.interface, far.node, far.interface))
    return out


def plan_loans(hw: SwitchHardware, topology: Topology, switch_node: str = "sw") -> list[PortLoan]:
    """Which real port replaces which of the topology's switch links.

    The i-th declared port (and peer) takes the i-th link to ``switch_node``;
    spare real ports stay where they are.
    """
    links = switch_links(topology, switch_node)
    if not hw.has_peers:
        raise PortContractError(
            f"topology {topology.name!r} sends traffic through its switch ports: "
            f"set {PEERS_ENV} to the interfaces cabled to {PORTS_ENV}"
        )
    if len(hw.ports) < len(links):
        raise PortContractError(
            f"topology {topology.name!r} needs {len(links)} switch ports but {PORTS_ENV} names "
            f"{len(hw.ports)}; cable and list at least {len(links)}"
        )
    return [
        PortLoan(real_port=hw.ports[i], port_name=port, peer=hw.peers[i], host=host, host_ifname=ifname)
        for i, (port, host, ifname) in enumerate(links)
    ]


def _ip(*argv: str) -> None:
    run(["ip", *argv])


def _move(dev: str, netns: str, name: str) -> None:
    _ip("link", "set", "dev", dev, "netns", netns)
    _ip("-n", netns, "link", "set", "dev", dev, "name", name)


def _give_back(netns: str, name: str, dev: str) -> None:
    _ip("-n", netns, "link", "set", "dev", name, "down")
    _ip("-n", netns, "link", "set", "dev", name, "name", dev)
    _ip("-n", netns, "link", "set", "dev", dev, "netns", INIT_NETNS_PID)


@contextlib.contextmanager
def lend(loans: Sequence[PortLoan], switch_netns: str, host_netns: Mapping[str, str]) -> Iterator[None]:
    """Replace the veth links by the real ports for the block; give them back afterwards.

    ``host_netns`` maps a loan's host node to its namespace name. On the way
    back every loan is tried even if one fails; the first error is raised.
    """
    moved: list[tuple[str, str, str]] = []  # (namespace, name there, own name)
    try:
        for loan in loans:
            _ip("-n", switch_netns, "link", "del", "dev", loan.port_name)  # the veth and its peer
            _move(loan.real_port, switch_netns, loan.port_name)
            moved.append((switch_netns, loan.port_name, loan.real_port))
            _move(loan.peer, host_netns[loan.host], loan.host_ifname)
            moved.append((host_netns[loan.host], loan.host_ifname, loan.peer))
        yield
    finally:
        errors: list[Exception] = []
        for netns, name, dev in reversed(moved):
            try:
                _give_back(netns, name, dev)
            except CommandError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
