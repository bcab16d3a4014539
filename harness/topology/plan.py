"""Planning: a validated Topology plus a run identity -> ordered operations.

Pure code: no I/O, no root. The order matters and is fixed here, so that the
applier can be a dumb loop and tests can check the plan without a kernel:

1. namespaces, then namespace-wide sysctls (``all``/``default`` keys must be
   in force before interfaces appear, e.g. ``conf.default.accept_dad``);
2. netdevsim devices, their devlink params (a devlink reload when a
   driverinit value is among them: reload re-creates the ports, so it comes
   before the renames) and eswitch mode, then their port renames;
3. bridges, then veth pairs (one netlink request each: the peer is created
   in its namespace and the bridge-side end joins its bridge at creation),
   then 802.1Q interfaces, then remaining bridge membership and port VLANs;
4. per-interface sysctls, link settings (mtu, mac, up), ethtool settings
   (``ethtool`` argv lists, built here so tests can check them), addresses;
5. netdevsim peering, routes, MPTCP limits and endpoints.

Kernel object names carry the run id (namespaces) and every created object
gets a fixed ifindex from ``IFINDEX_BASE`` upwards in its namespace, which
removes a lookup round trip per interface. (netdevsim ports get their index
from the kernel; the applier learns it when it renames them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import (
    Bridge,
    DevlinkParam,
    Ethtool,
    InterfaceConfig,
    IPInterface,
    Link,
    MptcpEndpoint,
    MptcpLimits,
    Node,
    Route,
    Topology,
    VlanRange,
)

IFINDEX_BASE = 1000
NETNS_PREFIX = "nh"


def netns_name(run_id: str, node: str) -> str:
    """Kernel name of a node's namespace: unique per run, readable by people."""
    return f"{NETNS_PREFIX}-{run_id}-{node}"


# --- operations ---------------------------------------------------------------


@dataclass(frozen=True)
class CreateNetns:
    node: str
    netns: str


@dataclass(frozen=True)
class SetSysctl:
    node: str
    key: str
    value: str


@dataclass(frozen=True)
class CreateNetdevsim:
    node: str
    device: str  # the user's handle, e.g. nsim0
    ports: int
    queues: int | None


@dataclass(frozen=True)
class SetDevlinkParam:
    node: str
    device: str
    param: DevlinkParam


@dataclass(frozen=True)
class ReloadDevlink:
    """``devlink dev reload``: driverinit params take effect, ports are re-created."""

    node: str
    device: str


@dataclass(frozen=True)
class SetEswitchMode:
    node: str
    device: str
    mode: str


@dataclass(frozen=True)
class RunEthtool:
    """One ``ethtool`` command on one interface, run inside the node."""

    node: str
    ifname: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class RenameNetdevsimPort:
    node: str
    device: str
    port: int  # 0-based port index
    ifname: str


@dataclass(frozen=True)
class LinkSettings:
    """Creation-time attributes of one interface."""

    ifname: str
    ifindex: int
    mtu: int | None = None
    mac: str | None = None
    up: bool = True


@dataclass(frozen=True)
class CreateVeth:
    """One veth pair. ``local`` may join bridge ``local_master`` at creation;
    the peer is created straight in ``peer_node``'s namespace."""

    node: str
    local: LinkSettings
    peer_node: str
    peer: LinkSettings
    local_master: str | None = None


@dataclass(frozen=True)
class CreateBridge:
    node: str
    link: LinkSettings
    vlan_filtering: bool


@dataclass(frozen=True)
class CreateVlan:
    node: str
    link: LinkSettings
    parent: str
    vlan_id: int


@dataclass(frozen=True)
class SetMaster:
    node: str
    ifname: str
    master: str


@dataclass(frozen=True)
class AddBridgeVlan:
    """VLAN membership of a bridge port, or (``on_bridge``) of the bridge device
    itself, which it needs before an 802.1Q interface on the bridge can carry
    that VLAN (``bridge vlan add dev br0 vid 10 self``)."""

    node: str
    ifname: str
    vlans: VlanRange
    on_bridge: bool = False


@dataclass(frozen=True)
class ConfigureLink:
    """mtu/mac/state for interfaces not created by a veth request."""

    node: str
    ifname: str
    mtu: int | None = None
    mac: str | None = None
    up: bool | None = None


@dataclass(frozen=True)
class AddAddress:
    node: str
    ifname: str
    address: IPInterface


@dataclass(frozen=True)
class PeerNetdevsim:
    node: str
    ifname: str
    peer_node: str
    peer_ifname: str


@dataclass(frozen=True)
class AddRoute:
    node: str
    route: Route


@dataclass(frozen=True)
class SetMptcpLimits:
    node: str
    limits: MptcpLimits


@dataclass(frozen=True)
class AddMptcpEndpoint:
    node: str
    endpoint: MptcpEndpoint


Op = (
    CreateNetns
    | SetSysctl
    | CreateNetdevsim
    | SetDevlinkParam
    | ReloadDevlink
    | SetEswitchMode
    | RenameNetdevsimPort
    | RunEthtool
    | CreateVeth
    | CreateBridge
    | CreateVlan
    | SetMaster
    | AddBridgeVlan
    | ConfigureLink
    | AddAddress
    | PeerNetdevsim
    | AddRoute
    | SetMptcpLimits
    | AddMptcpEndpoint
)


@dataclass
class Plan:
    run_id: str
    topology: Topology
    netns: dict[str, str]  # node -> namespace name
    ops: list[Op] = field(default_factory=list)
    ifindex: dict[tuple[str, str], int] = field(default_factory=dict)  # (node, ifname)


# --- planning -------------------------------------------------------------------


def is_interface_sysctl(key: str) -> bool:
    """True for keys that name one interface (net.ipv4.conf.eth0.x), which must
    wait until the interface exists; ``all``/``default`` keys go first."""
    parts = key.split(".")
    return (
        len(parts) >= 5
        and parts[0] == "net"
        and parts[2] in ("conf", "neigh")
        and parts[3] not in ("all", "default")
    )


class _IndexAllocator:
    """Per-namespace ifindex numbering for the interfaces a plan creates."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self.assigned: dict[tuple[str, str], int] = {}

    def take(self, node: str, ifname: str) -> int:
        index = self._next.get(node, IFINDEX_BASE)
        self._next[node] = index + 1
        self.assigned[(node, ifname)] = index
        return index


_ETHTOOL_FLAGS = (("features", "-K"), ("rings", "-G"), ("channels", "-L"), ("coalesce", "-C"), ("pause", "-A"))


def ethtool_argvs(ifname: str, settings: Ethtool) -> list[tuple[str, ...]]:
    """One ``ethtool`` argv per non-empty group, keys and values in file order."""
    argvs = []
    for group, flag in _ETHTOOL_FLAGS:
        pairs = getattr(settings, group)
        if pairs:
            argvs.append(("ethtool", flag, ifname, *(word for pair in pairs for word in pair)))
    return argvs


def devlink_handle(dev_id: int) -> str:
    return f"netdevsim/netdevsim{dev_id}"


def devlink_param_argv(dev_id: int, param: DevlinkParam) -> tuple[str, ...]:
    return ("devlink", "dev", "param", "set", devlink_handle(dev_id), "name", param.name,
            "value", param.value, "cmode", param.cmode)


def devlink_reload_argv(dev_id: int) -> tuple[str, ...]:
    return ("devlink", "dev", "reload", devlink_handle(dev_id))


def eswitch_argv(dev_id: int, mode: str) -> tuple[str, ...]:
    return ("devlink", "dev", "eswitch", "set", devlink_handle(dev_id), "mode", mode)


def _settings(node: Node, ifname: str, index: int) -> LinkSettings:
    cfg = node.interface(ifname) or InterfaceConfig(name=ifname)
    return LinkSettings(ifname=ifname, ifindex=index, mtu=cfg.mtu, mac=cfg.mac, up=cfg.state == "up")


def _sysctls(topology: Topology, node: Node) -> list[tuple[str, str]]:
    return list(topology.default_sysctls) + list(node.sysctls)


def _bridge_of(node: Node, ifname: str) -> str | None:
    for bridge in node.bridges:
        if any(port.name == ifname for port in bridge.ports):
            return bridge.name
    return None


def _veth_ops(topology: Topology, links: list[Link], alloc: _IndexAllocator) -> list[Op]:
    """One request per pair; the bridge-port end (if any) is the local end, so
    that it joins its bridge in the same request."""
    ops: list[Op] = []
    for link in links:
        if link.kind != "veth":
            continue
        a_end, b_end = link.a, link.b
        if _bridge_of(topology.node(a_end.node), a_end.interface) is None:
            if _bridge_of(topology.node(b_end.node), b_end.interface) is not None:
                a_end, b_end = b_end, a_end
        a, b = topology.node(a_end.node), topology.node(b_end.node)
        ops.append(
            CreateVeth(
                node=a.name,
                local=_settings(a, a_end.interface, alloc.take(a.name, a_end.interface)),
                peer_node=b.name,
                peer=_settings(b, b_end.interface, alloc.take(b.name, b_end.interface)),
                local_master=_bridge_of(a, a_end.interface),
            )
        )
    return ops


def _bridge_ops(node: Node, bridge: Bridge, alloc: _IndexAllocator) -> tuple[list[Op], list[Op]]:
    """(creation ops, membership ops): all bridges exist before any port joins."""
    create: list[Op] = [
        CreateBridge(
            node=node.name,
            link=_settings(node, bridge.name, alloc.take(node.name, bridge.name)),
            vlan_filtering=bridge.vlan_filtering,
        )
    ]
    members: list[Op] = []
    for port in bridge.ports:
        members.append(SetMaster(node=node.name, ifname=port.name, master=bridge.name))
        members.extend(AddBridgeVlan(node=node.name, ifname=port.name, vlans=v) for v in port.vlans)
    return create, members


def _created_by_veth(topology: Topology) -> set[tuple[str, str]]:
    made = set()
    for link in topology.links:
        if link.kind == "veth":
            made.add((link.a.node, link.a.interface))
            made.add((link.b.node, link.b.interface))
    return made


def _needs_configure(node: Node, ifname: str, created_up: set[tuple[str, str]]) -> ConfigureLink | None:
    """Settings for interfaces whose creation request did not carry them."""
    if (node.name, ifname) in created_up:
        return None
    cfg = node.interface(ifname) or InterfaceConfig(name=ifname)
    return ConfigureLink(node=node.name, ifname=ifname, mtu=cfg.mtu, mac=cfg.mac, up=cfg.state == "up")


def make_plan(topology: Topology, run_id: str) -> Plan:
    """Order every operation needed to build ``topology`` for run ``run_id``."""
    alloc = _IndexAllocator()
    netns = {node.name: netns_name(run_id, node.name) for node in topology.nodes}
    ops: list[Op] = [CreateNetns(node=n.name, netns=netns[n.name]) for n in topology.nodes]

    late_sysctls: list[Op] = []
    for node in topology.nodes:
        for key, value in _sysctls(topology, node):
            op = SetSysctl(node=node.name, key=key, value=value)
            (late_sysctls if is_interface_sysctl(key) else ops).append(op)

    # netdevsim ports are named by the kernel; renames give them the user's names.
    configure_later: list[tuple[Node, str]] = []
    for node in topology.nodes:
        for dev in node.netdevsim:
            ops.append(CreateNetdevsim(node=node.name, device=dev.name, ports=dev.ports, queues=dev.queues))
            ops.extend(SetDevlinkParam(node=node.name, device=dev.name, param=p) for p in dev.params)
            if any(p.cmode == "driverinit" for p in dev.params):
                ops.append(ReloadDevlink(node=node.name, device=dev.name))
            if dev.eswitch is not None:
                ops.append(SetEswitchMode(node=node.name, device=dev.name, mode=dev.eswitch))
            for port, ifname in enumerate(dev.port_names):
                ops.append(
                    RenameNetdevsimPort(node=node.name, device=dev.name, port=port, ifname=ifname)
                )
                configure_later.append((node, ifname))

    memberships: list[Op] = []
    for node in topology.nodes:
        for bridge in node.bridges:
            create, members = _bridge_ops(node, bridge, alloc)
            ops.extend(create)
            memberships.extend(members)
            configure_later.append((node, bridge.name))

    veths = _veth_ops(topology, list(topology.links), alloc)
    ops.extend(veths)
    joined = {(v.node, v.local.ifname) for v in veths if isinstance(v, CreateVeth) and v.local_master}
    memberships = [m for m in memberships if not (isinstance(m, SetMaster) and (m.node, m.ifname) in joined)]
    for node in topology.nodes:
        filtering = {b.name for b in node.bridges if b.vlan_filtering}
        for vlan in node.vlans:
            if vlan.link in filtering:
                memberships.append(
                    AddBridgeVlan(
                        node=node.name, ifname=vlan.link, vlans=VlanRange(vlan.id, vlan.id), on_bridge=True
                    )
                )
            ops.append(
                CreateVlan(
                    node=node.name,
                    link=_settings(node, vlan.name, alloc.take(node.name, vlan.name)),
                    parent=vlan.link,
                    vlan_id=vlan.id,
                )
            )
            configure_later.append((node, vlan.name))
    ops.extend(memberships)
    ops.extend(late_sysctls)

    created_up = _created_by_veth(topology)
    for node, ifname in configure_later:
        op = _needs_configure(node, ifname, created_up)
        if op is not None:
            ops.append(op)
    for node in topology.nodes:
        # Loopback is up in every node: local traffic and MPTCP need it.
        lo = node.interface("lo")
        ops.append(ConfigureLink(node=node.name, ifname="lo", up=lo is None or lo.state == "up"))
        for cfg in node.interfaces:
            ops.extend(RunEthtool(node=node.name, ifname=cfg.name, argv=argv)
                       for argv in ethtool_argvs(cfg.name, cfg.ethtool))
        for cfg in node.interfaces:
            ops.extend(AddAddress(node=node.name, ifname=cfg.name, address=a) for a in cfg.addresses)

    for link in topology.links:
        if link.kind == "netdevsim":
            ops.append(
                PeerNetdevsim(
                    node=link.a.node, ifname=link.a.interface,
                    peer_node=link.b.node, peer_ifname=link.b.interface,
                )
            )
    for node in topology.nodes:
        ops.extend(AddRoute(node=node.name, route=r) for r in node.routes)
        if node.mptcp is not None:
            if node.mptcp.limits is not None:
                ops.append(SetMptcpLimits(node=node.name, limits=node.mptcp.limits))
            ops.extend(AddMptcpEndpoint(node=node.name, endpoint=e) for e in node.mptcp.endpoints)

    return Plan(run_id=run_id, topology=topology, netns=netns, ops=ops, ifindex=alloc.assigned)

