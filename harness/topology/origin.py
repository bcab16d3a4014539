"""Where in the topology file a planned operation comes from, and what it does in words.

When the kernel refuses an operation, the user needs the setting to change,
not a Python repr of the operation: ``origin`` maps an operation back to the
YAML path of the setting that asked for it (``("nodes", "c1", "routes", 0)``),
which the loader turns into ``file:line:col``; ``describe`` says what was
being done. Pure: needs only the model the plan was made from.
"""

from __future__ import annotations

from . import plan as P
from .errors import PathItem
from .model import Node, Topology

YPath = tuple[PathItem, ...]

_ETHTOOL_GROUPS = {"-K": "features", "-G": "rings", "-L": "channels", "-C": "coalesce", "-A": "pause"}


def _link_index(topology: Topology, a: tuple[str, str], b: tuple[str, str]) -> int | None:
    for index, link in enumerate(topology.links):
        ends = {(link.a.node, link.a.interface), (link.b.node, link.b.interface)}
        if ends == {a, b}:
            return index
    return None


def _interface_path(node: Node, ifname: str) -> YPath:
    """Where an interface's settings are written: its vlans: entry for a VLAN (the model merges
    settings written there or under interfaces:, so the VLAN entry is the one sure place),
    else its interfaces: entry, else the node."""
    base: YPath = ("nodes", node.name)
    if any(v.name == ifname for v in node.vlans):
        return (*base, "vlans", ifname)
    if node.interface(ifname) is not None:
        return (*base, "interfaces", ifname)
    return base


def origin(topology: Topology, op: P.Op) -> YPath:
    """The YAML path of the setting that made the planner emit ``op``."""
    node = topology.node(op.node) if hasattr(op, "node") else None
    base: YPath = ("nodes", op.node) if hasattr(op, "node") else ()
    match op:
        case P.SetSysctl(key=key):
            own = node is not None and any(k == key for k, _ in node.sysctls)
            return (*base, "sysctls", key) if own else ("defaults", "sysctls", key)
        case P.CreateNetdevsim(device=device) | P.ReloadDevlink(device=device):
            return (*base, "netdevsim", device)
        case P.SetDevlinkParam(device=device, param=param):
            return (*base, "netdevsim", device, "params", param.name)
        case P.SetEswitchMode(device=device):
            return (*base, "netdevsim", device, "eswitch")
        case P.RenameNetdevsimPort(device=device, port=port):
            return (*base, "netdevsim", device, "port_names", port)
        case P.RunEthtool(ifname=ifname, argv=argv):
            group = _ETHTOOL_GROUPS.get(argv[1] if len(argv) > 1 else "", "")
            return (*base, "interfaces", ifname, "ethtool", group) if group else (*base, "interfaces", ifname)
        case P.CreateVeth(local=local, peer_node=peer_node, peer=peer):
            index = _link_index(topology, (op.node, local.ifname), (peer_node, peer.ifname))
            return ("links", index) if index is not None else base
        case P.PeerNetdevsim(ifname=ifname, peer_node=peer_node, peer_ifname=peer_ifname):
            index = _link_index(topology, (op.node, ifname), (peer_node, peer_ifname))
            return ("links", index) if index is not None else base
        case P.CreateBridge(link=link):
            return (*base, "bridges", link.ifname)
        case P.CreateVlan(link=link):
            return (*base, "vlans", link.ifname)
        case P.SetMaster(ifname=ifname, master=master):
            return (*base, "bridges", master, "ports", ifname)
        case P.AddBridgeVlan(ifname=ifname, vlans=vlans, on_bridge=True):
            assert node is not None
            vlan = next((v.name for v in node.vlans if v.link == ifname and v.id == vlans.first), None)
            return (*base, "vlans", vlan) if vlan else (*base, "bridges", ifname)
        case P.AddBridgeVlan(ifname=ifname):
            assert node is not None
            bridge = next((b.name for b in node.bridges if any(p.name == ifname for p in b.ports)), None)
            return (*base, "bridges", bridge, "ports", ifname, "vlans") if bridge else base
        case P.ConfigureLink(ifname=ifname):
            assert node is not None
            return _interface_path(node, ifname)
        case P.AddAddress(ifname=ifname, address=address):
            assert node is not None
            path = _interface_path(node, ifname)
            cfg = node.interface(ifname)
            if path[-2] == "interfaces" and cfg is not None and address in cfg.addresses:
                return (*path, "addresses", cfg.addresses.index(address))
            return path
        case P.AddRoute(route=route):
            assert node is not None
            return (*base, "routes", node.routes.index(route)) if route in node.routes else (*base, "routes")
        case P.SetMptcpLimits():
            return (*base, "mptcp", "limits")
        case P.AddMptcpEndpoint(endpoint=endpoint):
            assert node is not None and node.mptcp is not None
            endpoints = node.mptcp.endpoints
            return (*base, "mptcp", "endpoints", endpoints.index(endpoint)) if endpoint in endpoints else base
    return base


def describe(op: P.Op) -> str:
    """What ``op`` asks of the kernel, in the file's words."""
    where = f" in node {op.node}" if hasattr(op, "node") else ""
    match op:
        case P.CreateNetns(netns=netns):
            return f"creating namespace {netns}"
        case P.SetSysctl(key=key, value=value):
            return f"setting sysctl {key} = {value}{where}"
        case P.CreateNetdevsim(device=device, ports=ports):
            return f"creating netdevsim device {device} with {ports} ports{where}"
        case P.SetDevlinkParam(device=device, param=param):
            return f"setting devlink param {param.name} = {param.value} ({param.cmode}) on {device}{where}"
        case P.ReloadDevlink(device=device):
            return f"reloading devlink of {device}{where}"
        case P.SetEswitchMode(device=device, mode=mode):
            return f"setting eswitch mode {mode} on {device}{where}"
        case P.RenameNetdevsimPort(device=device, port=port, ifname=ifname):
            return f"naming port {port + 1} of {device} {ifname}{where}"
        case P.RunEthtool(argv=argv):
            return f"running {' '.join(argv)}{where}"
        case P.CreateVeth(local=local, peer_node=peer_node, peer=peer):
            return f"creating veth pair {op.node}:{local.ifname} - {peer_node}:{peer.ifname}"
        case P.CreateBridge(link=link):
            return f"creating bridge {link.ifname}{where}"
        case P.CreateVlan(link=link, parent=parent, vlan_id=vlan_id):
            return f"creating vlan {link.ifname} (id {vlan_id} on {parent}){where}"
        case P.SetMaster(ifname=ifname, master=master):
            return f"adding {ifname} to bridge {master}{where}"
        case P.AddBridgeVlan(ifname=ifname, vlans=v):
            ids = str(v.first) if v.first == v.last else f"{v.first}-{v.last}"
            return f"adding VLAN {ids} to {ifname}{where}"
        case P.ConfigureLink(ifname=ifname):
            return f"configuring {ifname} (mtu, mac, state){where}"
        case P.AddAddress(ifname=ifname, address=address):
            return f"adding address {address} to {ifname}{where}"
        case P.PeerNetdevsim(ifname=ifname, peer_node=peer_node, peer_ifname=peer_ifname):
            return f"peering netdevsim ports {op.node}:{ifname} and {peer_node}:{peer_ifname}"
        case P.AddRoute(route=r):
            via = f" via {r.via}" if r.via is not None else ""
            dev = f" dev {r.dev}" if r.dev is not None else ""
            return f"adding route {r.to}{via}{dev}{where}"
        case P.SetMptcpLimits():
            return f"setting MPTCP limits{where}"
        case P.AddMptcpEndpoint(endpoint=e):
            return f"adding MPTCP endpoint {e.address}{where}"
    return f"{type(op).__name__}{where}"
