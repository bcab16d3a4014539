"""The topology model: pure, immutable data produced by the loader.

Nothing here does I/O. The loader (``loader.py``) turns a validated YAML
document into these objects; the planner (``plan.py``) turns them into an
ordered list of operations. Names are the user's names (node ``c1``, interface
``eth0``); the run id that makes kernel object names unique is applied later,
by the planner.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Requires:
    """What the kernel and machine must provide; unmet means pytest skip."""

    kconfig: tuple[str, ...] = ()  # normalised with the CONFIG_ prefix
    tools: tuple[str, ...] = ()
    sysfs: tuple[str, ...] = ()  # paths that must exist, e.g. /sys/bus/netdevsim


@dataclass(frozen=True)
class Ethtool:
    """ethtool settings of one interface, each group in file order.

    Values are kept as ethtool's CLI words ("on"/"off", decimal numbers):
    the applier passes them to ``ethtool -K/-G/-L/-C/-A`` unchanged.
    """

    features: tuple[tuple[str, str], ...] = ()
    rings: tuple[tuple[str, str], ...] = ()
    channels: tuple[tuple[str, str], ...] = ()
    coalesce: tuple[tuple[str, str], ...] = ()
    pause: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.features or self.rings or self.channels or self.coalesce or self.pause)


@dataclass(frozen=True)
class InterfaceConfig:
    """Settings for an interface that a link, netdevsim port, bridge or VLAN creates."""

    name: str
    addresses: tuple[IPInterface, ...] = ()
    mtu: int | None = None
    mac: str | None = None
    state: Literal["up", "down"] = "up"
    ethtool: Ethtool = field(default_factory=Ethtool)


@dataclass(frozen=True)
class Route:
    to: str  # "default" or a network in CIDR notation
    via: IPAddress | None = None
    dev: str | None = None
    metric: int | None = None
    table: int | None = None

    @property
    def family(self) -> int:
        """4 or 6; a 'default' route takes its family from 'via' (IPv4 without it)."""
        if self.to != "default":
            return ipaddress.ip_network(self.to, strict=False).version
        return self.via.version if self.via is not None else 4


@dataclass(frozen=True)
class MptcpEndpoint:
    address: IPAddress
    interface: str | None = None
    id: int | None = None
    port: int | None = None
    flags: tuple[str, ...] = ()  # subset of signal, subflow, backup, fullmesh


@dataclass(frozen=True)
class MptcpLimits:
    subflows: int | None = None
    add_addr_accepted: int | None = None


@dataclass(frozen=True)
class Mptcp:
    limits: MptcpLimits | None = None
    endpoints: tuple[MptcpEndpoint, ...] = ()


@dataclass(frozen=True)
class VlanRange:
    """A bridge port VLAN entry: one VID (first == last) or a range."""

    first: int
    last: int
    pvid: bool = False
    untagged: bool = False


@dataclass(frozen=True)
class BridgePort:
    name: str
    vlans: tuple[VlanRange, ...] = ()


@dataclass(frozen=True)
class Bridge:
    name: str
    vlan_filtering: bool = False
    ports: tuple[BridgePort, ...] = ()


@dataclass(frozen=True)
class Vlan:
    """An 802.1Q sub-interface ``name`` on ``link`` with VLAN id ``id``."""

    name: str
    link: str
    id: int


@dataclass(frozen=True)
class NetdevsimDevice:
    """A netdevsim device placed in a node.

    ``name`` is the user's handle (``nsim0``); the kernel device id is
    allocated per run. Ports are named ``port_names`` in order, or keep the
    kernel's names (``eni<id>np<n>``) when no names are given.
    """

    name: str
    ports: int = 1
    port_names: tuple[str, ...] = ()
    queues: int | None = None
    params: tuple["DevlinkParam", ...] = ()
    eswitch: Literal["legacy", "switchdev"] | None = None


@dataclass(frozen=True)
class DevlinkParam:
    """``devlink dev param set ... name N value V cmode C``; driverinit needs a reload."""

    name: str
    value: str  # as devlink's CLI takes it: "true"/"false", digits or a string
    cmode: Literal["runtime", "driverinit"] = "runtime"


@dataclass(frozen=True)
class Node:
    """A node is one network namespace."""

    name: str
    interfaces: tuple[InterfaceConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()  # applied in order
    mptcp: Mptcp | None = None
    netdevsim: tuple[NetdevsimDevice, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    vlans: tuple[Vlan, ...] = ()

    def interface(self, name: str) -> InterfaceConfig | None:
        return next((i for i in self.interfaces if i.name == name), None)


@dataclass(frozen=True)
class Endpoint:
    node: str
    interface: str

    def __str__(self) -> str:
        return f"{self.node}:{self.interface}"


@dataclass(frozen=True)
class Link:
    """A point-to-point link: a veth pair, or two netdevsim ports peered."""

    a: Endpoint
    b: Endpoint
    kind: Literal["veth", "netdevsim"] = "veth"


@dataclass(frozen=True)
class Topology:
    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...] = ()
    description: str = ""
    requires: Requires = field(default_factory=Requires)
    default_sysctls: tuple[tuple[str, str], ...] = ()
    version: int = 1
    source: Path | None = None  # the file it was loaded from, for messages
    # The YAML text as validated: a build error points at the setting's line
    # from this, not from a file that may have changed since.
    source_text: str | None = field(default=None, repr=False, compare=False)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"topology {self.name!r} has no node {name!r}")
