"""Checks the schema cannot express: names that must refer to each other.

Runs only on a document that passed the schema, so shapes and types are
known here (a node is a mapping, ``ports`` is an int, ...). Every check adds
a problem at the YAML position of the offending key or value, with a hint,
and carries on: the user gets all mistakes of a file in one run.

Interfaces come from four creators (veth links, netdevsim ports, bridges,
VLANs); everything else (``interfaces:`` entries, bridge ports, VLAN
parents, route and MPTCP devices) refers to them. So the checks first build
the inventory of created interfaces per node, then check the references.

The small parsers here (``parse_cidr``, ``parse_vlan``, ``link_ends``) are
shared with the model builder so that what was checked is what gets built.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import Part, PathItem, Problems, flow, locate, show, subject
from .. import sysctl as sysctl_keys
from ..names import ifname_problem
from .model import IPAddress, IPInterface, VlanRange

ALWAYS_PRESENT = ("lo",)
_INTERFACE_SETTINGS = ("addresses", "mtu", "mac", "state")
_NAME = re.compile(r"[a-z0-9-]{1,16}")
_VLAN_RANGE = re.compile(r"(\d+)(?:-(\d+))?")

YPath = tuple[PathItem, ...]


# --- shared parsers ----------------------------------------------------------------


def parse_cidr(text: str) -> IPInterface | None:
    """An address with an explicit prefix length, or None if it is not one."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        return None


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_vlan(spec: Any) -> VlanRange | None:
    """A bridge port VLAN entry (10, "20-29" or {vid, pvid, untagged}), or None if invalid."""
    flags = {}
    if isinstance(spec, Mapping):
        flags = {"pvid": bool(spec.get("pvid", False)), "untagged": bool(spec.get("untagged", False))}
        spec = spec["vid"]
    if isinstance(spec, int) and not isinstance(spec, bool):
        first = last = int(spec)
    else:
        match = _VLAN_RANGE.fullmatch(str(spec))
        if match is None:
            return None
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
    if not 1 <= first <= last <= 4094:
        return None
    return VlanRange(first=first, last=last, **flags)


@dataclass(frozen=True)
class LinkEnd:
    """One endpoint of a link as written, with where it was written."""

    text: str
    path: YPath
    node: str
    interface: str


def link_ends(doc: Mapping[str, Any]) -> Iterator[tuple[int, str, list[LinkEnd]]]:
    """(index, kind, endpoints) for each link, in file order, for either link form."""
    for index, link in enumerate(doc.get("links") or []):
        if isinstance(link, Mapping):
            ends, base, kind = link["endpoints"], ("links", index, "endpoints"), str(link.get("kind", "veth"))
        else:
            ends, base, kind = link, ("links", index), "veth"
        parsed = []
        for j, text in enumerate(ends):
            node, _, interface = str(text).partition(":")
            parsed.append(LinkEnd(str(text), (*base, j), node, interface))
        yield index, kind, parsed


# --- the inventory of created interfaces ------------------------------------------------


@dataclass(frozen=True)
class Creator:
    """Something that creates an interface: a veth link, netdevsim port, bridge or VLAN."""

    what: str  # "link #1", "netdevsim device nsim0", "bridge br0", "vlan br0.10"
    kind: str  # veth | netdevsim | bridge | vlan
    path: YPath


Inventory = dict[str, dict[str, Creator]]  # node -> interface -> its (first) creator


def _creators(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, Creator]]:
    """(node, interface, creator) for every created interface, in file order."""
    for node_name, node in doc["nodes"].items():
        base = ("nodes", node_name)
        for dev, spec in (node.get("netdevsim") or {}).items():
            for k, port in enumerate(spec.get("port_names") or []):
                path = (*base, "netdevsim", dev, "port_names", k)
                yield node_name, str(port), Creator(f"netdevsim device {dev}", "netdevsim", path)
        for bridge in node.get("bridges") or {}:
            yield node_name, str(bridge), Creator(f"bridge {bridge}", "bridge", (*base, "bridges", bridge))
        for vlan in node.get("vlans") or {}:
            yield node_name, str(vlan), Creator(f"vlan {vlan}", "vlan", (*base, "vlans", vlan))
    for index, kind, ends in link_ends(doc):
        if kind == "veth":
            for end in ends:
                yield end.node, end.interface, Creator(f"link #{index + 1}", "veth", end.path)


def _inventory(doc: Mapping[str, Any], problems: Problems) -> Inventory:
    """Created interfaces per node; reports names created twice or invalid."""
    inventory: Inventory = {name: {} for name in doc["nodes"]}
    for node, ifname, creator in _creators(doc):
        if node not in inventory or (creator.kind == "veth" and ifname_problem(ifname)):
            continue  # an undeclared node or a bad name: reported by the link checks
        why = ifname_problem(ifname)
        if why is not None:
            problems.add(creator.path, f"interface name {ifname!r} of {creator.what} is not valid: {why}",
                         "a name of at most 15 bytes without '/', ':' or whitespace, e.g. eth0")
            continue
        if ifname in ALWAYS_PRESENT:
            problems.add(creator.path, f"{creator.what} creates {ifname!r} in node {node}, which always exists",
                         "another interface name, e.g. eth0", _part(creator))
            continue
        first = inventory[node].get(ifname)
        if first is None:
            inventory[node][ifname] = creator
            continue
        if first.kind == creator.kind == "veth":
            continue  # one interface in two links: reported by the link checks
        problems.add(creator.path, _twice_message(node, ifname, first, creator, problems),
                     _twice_hint(first, creator), _part(creator))
    return inventory


def _part(creator: Creator) -> Part:
    """Bridges and VLANs are named by a key; ports and link ends by a value."""
    return "key" if creator.kind in ("bridge", "vlan") else "value"


def _twice_message(node: str, ifname: str, first: Creator, again: Creator, problems: Problems) -> str:
    line, _ = locate(problems.root, first.path)
    return (f"interface {ifname!r} in node {node} is created twice: "
            f"by {first.what} (line {line}) and by {again.what}")


def _twice_hint(first: Creator, again: Creator) -> str:
    kinds = {first.kind, again.kind}
    if kinds == {"veth", "netdevsim"}:
        link = first if first.kind == "veth" else again
        return (f"kind: netdevsim on {link.what} (written {{endpoints: [...], kind: netdevsim}}) "
                "to peer the netdevsim port, or another interface name for the link")
    return f"another interface name for {again.what}"


# --- entry point --------------------------------------------------------------------------


def check_semantics(doc: Mapping[str, Any], problems: Problems) -> None:
    """Add a problem for every broken reference or rule in a schema-valid document."""
    _check_names(doc, problems)
    _check_requires(doc, problems)
    inventory = _inventory(doc, problems)
    _check_links(doc, inventory, problems)
    _check_link_addresses(doc, problems)
    _check_sysctls(doc.get("defaults") or {}, ("defaults",), list(inventory.values()), problems)
    for name, node in doc["nodes"].items():
        created = inventory[name]
        base: YPath = ("nodes", name)
        _check_interfaces(node, created, base, problems)
        _check_netdevsim(node, base, problems)
        _check_bridges(node, created, base, problems)
        _check_vlans(node, created, base, problems)
        _check_routes(node, created, base, problems)
        _check_gateways(node, base, problems)
        _check_mptcp(node, created, base, problems)
        _check_node_addresses(node, base, problems)
        _check_sysctls(node, base, [created], problems)


def _check_names(doc: Mapping[str, Any], problems: Problems) -> None:
    """Names become parts of kernel object names: no stray newline may slip through."""
    if not _NAME.fullmatch(str(doc["name"])):
        problems.add(("name",), f"name {doc['name']!r} is not valid", "lowercase letters, digits and '-'")
    for name in doc["nodes"]:
        if not _NAME.fullmatch(str(name)):
            problems.add(("nodes", name), f"node name {name!r} is not valid",
                         "lowercase letters, digits and '-'", "key")


def _check_requires(doc: Mapping[str, Any], problems: Problems) -> None:
    """MPTCP and CONFIG_MPTCP are the same option: listing both is a slip."""
    seen: dict[str, str] = {}
    for index, option in enumerate((doc.get("requires") or {}).get("kconfig") or []):
        canonical = normalise_kconfig(str(option))
        if canonical in seen:
            problems.add(("requires", "kconfig", index),
                         f"kconfig option {option!r} repeats {seen[canonical]!r}", f"list {canonical} once")
        seen[canonical] = str(option)


def normalise_kconfig(option: str) -> str:
    return option if option.startswith("CONFIG_") else f"CONFIG_{option}"


# --- links ----------------------------------------------------------------------------------


def _check_links(doc: Mapping[str, Any], inventory: Inventory, problems: Problems) -> None:
    nsim_ports = _netdevsim_ports(doc)
    linked: dict[tuple[str, str], int] = {}
    for index, kind, ends in link_ends(doc):
        for end in ends:
            if not _check_endpoint(end, inventory, problems):
                continue
            key = (end.node, end.interface)
            if linked.get(key) == index:
                problems.add(end.path, f"link #{index + 1} joins {end.text} to itself",
                             f"another interface name for one end of link #{index + 1}")
            elif key in linked:
                problems.add(end.path, f"interface {end.text} is already in link #{linked[key] + 1}; "
                             "an interface can be in one link only",
                             f"another interface name in link #{index + 1}")
            else:
                linked[key] = index
        if kind == "netdevsim":
            _check_netdevsim_link(index, ends, nsim_ports, problems)


def _check_endpoint(end: LinkEnd, inventory: Inventory, problems: Problems) -> bool:
    """Endpoint syntax and node; False when the endpoint cannot be used further."""
    if not end.node or not end.interface:
        problems.add(end.path, f"link endpoint {end.text!r} is not written node:interface", "c1:eth0")
        return False
    if end.node not in inventory:
        close = closest(end.node, list(inventory))
        hint = f"{close[0]}:{end.interface}" if close else "one of the nodes: " + ", ".join(inventory)
        problems.add(end.path, f"link endpoint {end.text!r} names node {end.node!r}, which is not declared "
                     "under nodes", hint)
        return False
    why = ifname_problem(end.interface)
    if why is not None:
        problems.add(end.path, f"interface name {end.interface!r} in link endpoint {end.text!r} is not valid: "
                     f"{why}", f"{end.node}:<name of at most 15 bytes without '/', ':' or whitespace>, "
                     f"e.g. {end.node}:eth0")
        return False
    return True


def _netdevsim_ports(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """node -> names of its netdevsim ports, in order."""
    return {
        name: [str(p) for spec in (node.get("netdevsim") or {}).values() for p in spec.get("port_names") or []]
        for name, node in doc["nodes"].items()
    }


def _check_netdevsim_link(index: int, ends: list[LinkEnd], nsim_ports: dict[str, list[str]],
                          problems: Problems) -> None:
    """A netdevsim link peers two existing ports of netdevsim devices in two nodes."""
    for end in ends:
        ports = nsim_ports.get(end.node)
        if ports is None or end.interface in ports:
            continue
        hint = (f"one of node {end.node}'s netdevsim ports: {', '.join(ports)}" if ports else
                f"a netdevsim device in node {end.node}, e.g. netdevsim: "
                f"{flow({'nsim0': {'ports': 1, 'port_names': [end.interface]}})}")
        problems.add(end.path, f"link #{index + 1} is kind netdevsim but {end.text} is not a netdevsim port",
                     hint)
    if ends[0].node == ends[1].node:
        problems.add(ends[1].path, f"link #{index + 1} peers two netdevsim ports of the same node "
                     f"{ends[0].node}; netdevsim peers must be in different nodes",
                     "a port of another node, or a veth link")


def closest(word: str, choices: list[str]) -> list[str]:
    """The likeliest intended choice, if any. Names here are short (eth0, s1), where
    one wrong character already halves difflib's ratio, hence the low cutoff."""
    return difflib.get_close_matches(word, choices, n=1, cutoff=0.5)


# --- per-node checks ---------------------------------------------------------------------------


def _suggest(name: str, created: Mapping[str, Creator]) -> str:
    """Hint for a reference to an interface that does not exist."""
    names = list(created) + list(ALWAYS_PRESENT)
    close = closest(name, names)
    if close:
        return close[0]
    return "one of " + ", ".join(names)


def _check_interfaces(node: Mapping[str, Any], created: Mapping[str, Creator], base: YPath,
                      problems: Problems) -> None:
    """Entries must configure an existing interface, once, with sane addresses and MAC."""
    vlans = node.get("vlans") or {}
    for ifname, settings in (node.get("interfaces") or {}).items():
        path = (*base, "interfaces", ifname)
        if ifname not in created and ifname not in ALWAYS_PRESENT:
            problems.add(path, f"interface {ifname!r} in node {base[1]} is configured but nothing creates it "
                         "(interfaces come from links, netdevsim ports, bridges and vlans)",
                         _missing_hint(ifname, base[1], created), "key")
        elif ifname in vlans and any(k in vlans[ifname] for k in _INTERFACE_SETTINGS):
            problems.add(path, f"interface {ifname!r} in node {base[1]} is configured twice: here and under "
                         f"vlans", f"all settings of {ifname} in one place", "key")
        _check_settings(settings, path, problems)
        _check_ethtool(settings.get("ethtool") or {}, created.get(ifname), path, problems)
    for vlan, settings in vlans.items():
        _check_settings(settings, (*base, "vlans", vlan), problems)


_HW_GROUPS = ("rings", "channels", "coalesce", "pause")


def _check_ethtool(ethtool: Mapping[str, Any], creator: Creator | None, path: YPath, problems: Problems) -> None:
    """Software devices (bridges, VLANs, lo) have features but no rings, channels, coalescing or
    pause settings; the kernel would refuse them with EOPNOTSUPP at build time."""
    kind = creator.kind if creator is not None else "loopback"
    if kind not in ("bridge", "vlan", "loopback"):
        return
    for group in _HW_GROUPS:
        if group in ethtool:
            problems.add((*path, "ethtool", group), f"ethtool {group} on {path[-1]!r} ({kind} device): the "
                         f"kernel has no {group} settings for a {kind} device",
                         f"ethtool {group} on a veth or netdevsim port (only features apply here)", "key")


def _missing_hint(ifname: str, node: str, created: Mapping[str, Creator]) -> str:
    close = closest(ifname, list(created))
    if close:
        return close[0]
    return f"a link that creates it, e.g. links: [[{node}:{ifname}, other:{ifname}]]"


def _check_settings(settings: Mapping[str, Any], path: YPath, problems: Problems) -> None:
    _check_addresses(settings.get("addresses") or [], (*path, "addresses"), problems)
    mac = settings.get("mac")
    if mac is not None and int(str(mac)[:2], 16) & 1:
        fixed = f"{(int(str(mac)[:2], 16) & 0xFE) | 0x02:02x}{str(mac)[2:]}"
        thing, where = subject((*path, "mac"))
        problems.add((*path, "mac"), f"{thing} {str(mac)!r}{where} is a multicast address; an interface "
                     "needs a unicast MAC (even first byte)", f"mac: {fixed}")


def _check_addresses(addresses: list[Any], path: YPath, problems: Problems) -> None:
    seen: dict[IPInterface, int] = {}
    for index, text in enumerate(addresses):
        thing, where = subject((*path, index))
        address = parse_cidr(str(text))
        if address is None:
            problems.add((*path, index), f"{thing} {str(text)!r}{where} is not an address with prefix length",
                         _cidr_hint(str(text)))
        elif address in seen:
            problems.add((*path, index), f"{thing} {str(text)!r}{where} repeats address #{seen[address] + 1}",
                         "list each address once")
        else:
            seen[address] = index


def _cidr_hint(text: str) -> str:
    plain = parse_ip(text)
    if plain is not None:
        return f"{text}/{24 if plain.version == 4 else 64}"
    return "an address with prefix length, e.g. 10.0.0.1/24 or 2001:db8::1/64"


def _check_netdevsim(node: Mapping[str, Any], base: YPath, problems: Problems) -> None:
    for dev, spec in (node.get("netdevsim") or {}).items():
        names = spec.get("port_names") or []
        if names and len(names) != spec["ports"]:
            problems.add((*base, "netdevsim", dev, "port_names"),
                         f"netdevsim device {dev} in node {base[1]} has {spec['ports']} ports but "
                         f"{len(names)} port names", f"ports: {len(names)}, or one name per port", "key")


def _check_bridges(node: Mapping[str, Any], created: Mapping[str, Creator], base: YPath,
                   problems: Problems) -> None:
    """Ports exist, belong to one bridge, and carry VLANs only on a VLAN-filtering bridge."""
    owner: dict[str, str] = {}
    for bridge, spec in (node.get("bridges") or {}).items():
        for port, port_spec in (spec.get("ports") or {}).items():
            path = (*base, "bridges", bridge, "ports", port)
            if port == bridge:
                problems.add(path, f"bridge {bridge} in node {base[1]} lists itself as a port",
                             "the interfaces to enslave, e.g. eth0: {}", "key")
            elif port in created and created[port].kind == "bridge":
                problems.add(path, f"port {port!r} of bridge {bridge} in node {base[1]} is a bridge; "
                             "the kernel does not enslave a bridge to a bridge",
                             "a veth, netdevsim port or vlan interface", "key")
            elif port not in created:
                problems.add(path, f"port {port!r} of bridge {bridge} in node {base[1]} does not exist "
                             "in the node", _suggest(port, created), "key")
            elif port in owner:
                problems.add(path, f"interface {port!r} in node {base[1]} is a port of bridge {owner[port]} "
                             f"and of bridge {bridge}", f"another port for bridge {bridge}", "key")
            owner.setdefault(port, bridge)
            vlans = port_spec.get("vlans")
            if vlans and not spec.get("vlan_filtering", False):
                problems.add((*path, "vlans"), f"port {port} of bridge {bridge} in node {base[1]} has vlans "
                             "but the bridge does not filter VLANs",
                             f"vlan_filtering: true under bridge {bridge}", "key")
            _check_port_vlans(vlans or [], (*path, "vlans"), problems)


def _check_port_vlans(vlans: list[Any], path: YPath, problems: Problems) -> None:
    """Ids and ranges valid, no id twice, at most one pvid, pvid not a range."""
    covered: set[int] = set()
    pvid_at: int | None = None
    for index, spec in enumerate(vlans):
        item = (*path, index)
        thing, where = subject(item)
        parsed = parse_vlan(spec)
        if parsed is None:
            raw = spec["vid"] if isinstance(spec, Mapping) else spec
            problems.add(item, f"{thing} {show(raw)}{where} is not a VLAN id 1-4094 or a range a-b with a <= b",
                         "10, or a range such as 20-29")
            continue
        ids = set(range(parsed.first, parsed.last + 1))
        if ids & covered:
            problems.add(item, f"{thing}{where} repeats VLAN {min(ids & covered)}", "each VLAN id once per port")
        covered |= ids
        if parsed.pvid and parsed.first != parsed.last:
            problems.add(item, f"{thing}{where} gives pvid to a range; the pvid is one VLAN",
                         f"{{vid: {parsed.first}, pvid: true}}")
        elif parsed.pvid and pvid_at is not None:
            problems.add(item, f"{thing}{where} is a second pvid (the first is vlan #{pvid_at + 1}); "
                         "a port has one pvid", "pvid: true on one VLAN only")
        elif parsed.pvid:
            pvid_at = index


def _check_vlans(node: Mapping[str, Any], created: Mapping[str, Creator], base: YPath,
                 problems: Problems) -> None:
    for vlan, spec in (node.get("vlans") or {}).items():
        link = str(spec["link"])
        if link == vlan or link not in created:
            problems.add((*base, "vlans", vlan, "link"),
                         f"link {link!r} of vlan {vlan} in node {base[1]} does not exist in the node",
                         f"link: {_suggest(link, {k: v for k, v in created.items() if k != vlan})}")


def _check_routes(node: Mapping[str, Any], created: Mapping[str, Creator], base: YPath,
                  problems: Problems) -> None:
    for index, route in enumerate(node.get("routes") or []):
        path = (*base, "routes", index)
        family = _check_route_to(str(route["to"]), (*path, "to"), problems)
        if "via" in route:
            _check_route_via(str(route["via"]), family, (*path, "via"), problems)
        if "dev" in route and str(route["dev"]) not in created and route["dev"] not in ALWAYS_PRESENT:
            problems.add((*path, "dev"), f"dev {str(route['dev'])!r} of route #{index + 1} in node {base[1]} "
                         "does not exist in the node", f"dev: {_suggest(str(route['dev']), created)}")
        if "via" not in route and "dev" not in route:
            problems.add(path, f"route #{index + 1} in node {base[1]} has neither via nor dev",
                         "via: <gateway address> or dev: <interface>")


def _check_route_to(to: str, path: YPath, problems: Problems) -> int | None:
    """The destination's family (None for default), reporting an invalid one."""
    if to == "default":
        return None
    try:
        return ipaddress.ip_network(to, strict=True).version
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(to, strict=False)
    except ValueError:
        problems.add(path, f"route destination {to!r} is not default or a network",
                     "to: default, or a network such as 10.0.0.0/24")
        return None
    problems.add(path, f"route destination {to!r} has host bits set", f"to: {network}")
    return network.version


def _check_route_via(via: str, family: int | None, path: YPath, problems: Problems) -> None:
    gateway = parse_ip(via)
    if gateway is None:
        problems.add(path, f"gateway {via!r} is not an IP address", "via: 10.0.0.1")
    elif family is not None and gateway.version != family:
        problems.add(path, f"gateway {via} is IPv{gateway.version} but the destination is IPv{family}",
                     f"an IPv{family} gateway")


def _check_mptcp(node: Mapping[str, Any], created: Mapping[str, Creator], base: YPath,
                 problems: Problems) -> None:
    """Endpoints sit on the node's own addresses and interfaces; kernel flag rules."""
    endpoints = (node.get("mptcp") or {}).get("endpoints") or []
    own = _node_addresses(node)
    ids: dict[int, int] = {}
    for index, endpoint in enumerate(endpoints):
        path = (*base, "mptcp", "endpoints", index)
        label = f"mptcp endpoint #{index + 1} in node {base[1]}"
        _check_endpoint_address(str(endpoint["address"]), own, label, (*path, "address"), problems)
        interface = endpoint.get("interface")
        if interface is not None and interface not in created and interface not in ALWAYS_PRESENT:
            problems.add((*path, "interface"), f"interface {str(interface)!r} of {label} does not exist in "
                         "the node", f"interface: {_suggest(str(interface), created)}")
        if "id" in endpoint:
            if endpoint["id"] in ids:
                problems.add((*path, "id"), f"id {endpoint['id']} of {label} is already used by endpoint "
                             f"#{ids[endpoint['id']] + 1}", "another id, or none to let the kernel choose")
            ids.setdefault(endpoint["id"], index)
        flags = set(endpoint.get("flags") or [])
        if "port" in endpoint and "signal" not in flags:
            problems.add((*path, "port"), f"{label} has a port but not the signal flag",
                         "flags: [signal] (a port is only announced)")
        if {"signal", "fullmesh"} <= flags:
            problems.add((*path, "flags"), f"{label} has both signal and fullmesh, which the kernel refuses",
                         "flags: [subflow, fullmesh] or flags: [signal]")


def _node_addresses(node: Mapping[str, Any]) -> list[IPAddress]:
    """Every valid address configured on the node, under interfaces or vlans."""
    found: list[IPAddress] = []
    for section in ("interfaces", "vlans"):
        for settings in (node.get(section) or {}).values():
            for text in settings.get("addresses") or []:
                parsed = parse_cidr(str(text))
                if parsed is not None:
                    found.append(parsed.ip)
    return found


def _check_endpoint_address(text: str, own: list[IPAddress], label: str, path: YPath,
                            problems: Problems) -> None:
    address = parse_ip(text)
    if address is None:
        problems.add(path, f"address {text!r} of {label} is not an IP address", _ip_hint(text, own))
    elif address not in own:
        problems.add(path, f"address {text} of {label} is not one of the node's addresses", _ip_hint(text, own))


def _ip_hint(text: str, own: list[IPAddress]) -> str:
    if own:
        return "one of the node's addresses: " + ", ".join(dict.fromkeys(str(a) for a in own))
    return f"give the node an interface with address {text} first"


# --- sysctls -------------------------------------------------------------------------------


def _check_sysctls(section: Mapping[str, Any], base: YPath, nodes: list[Mapping[str, Creator]],
                   problems: Problems) -> None:
    """Only keys of the node's own network namespace, as plain words; per-interface keys name an
    interface that exists in every node they apply to (``defaults`` apply to all nodes)."""
    for key in section.get("sysctls") or {}:
        path = (*base, "sysctls", key)
        why = sysctl_keys.key_problem(str(key))
        if why is not None:
            problems.add(path, f"sysctl {str(key)!r} is refused: {why}",
                         "a network sysctl of the node's namespace, e.g. net.ipv4.ip_forward: 1", "key")
            continue
        ifname = sysctl_keys.interface_of(str(key))
        if ifname is None or ifname in ALWAYS_PRESENT:
            continue
        for created in nodes:
            if ifname not in created:
                where = "every node" if base == ("defaults",) else f"node {base[1]}"
                problems.add(path, f"sysctl {str(key)!r} names interface {ifname!r}, which {where} does not "
                             "have", f"the interface of a link, netdevsim port, bridge or vlan of {where}, "
                             "or all/default", "key")
                break


# --- addresses across interfaces and links ----------------------------------------------


def _settings_by_interface(node: Mapping[str, Any]) -> Iterator[tuple[YPath, str, Mapping[str, Any]]]:
    """(relative path, interface, settings) for interfaces: entries and vlans carrying settings."""
    for section in ("interfaces", "vlans"):
        for ifname, settings in (node.get(section) or {}).items():
            yield (section, ifname), str(ifname), settings


def _check_node_addresses(node: Mapping[str, Any], base: YPath, problems: Problems) -> None:
    """One address on two interfaces of a node: the kernel accepts it, routing then is a coin toss;
    no test means that."""
    first: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}
    for rel, ifname, settings in _settings_by_interface(node):
        for index, text in enumerate(settings.get("addresses") or []):
            address = parse_cidr(str(text))
            if address is None:
                continue
            owner = first.setdefault(address.ip, ifname)
            if owner != ifname:
                problems.add((*base, *rel, "addresses", index),
                             f"address {address.ip} on {ifname} in node {base[1]} is already on {owner}",
                             "another address; each address on one interface of the node")


def _check_link_addresses(doc: Mapping[str, Any], problems: Problems) -> None:
    """Both ends of one link with the same address: neither end could reach the other."""
    nodes = doc["nodes"]
    for index, _kind, ends in link_ends(doc):
        if len(ends) != 2 or any(e.node not in nodes for e in ends):
            continue
        a, b = ends
        a_addrs = _addresses_of(nodes[a.node], a.interface)
        for position, ip in _addresses_with_path(nodes[b.node], b.interface, ("nodes", b.node)):
            if ip in a_addrs:
                problems.add(position, f"address {ip} is on both ends of link #{index + 1} "
                             f"({a.text} and {b.text})", f"another address for {b.text}, in the same subnet")


def _addresses_of(node: Mapping[str, Any], ifname: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return {ip for _, ip in _addresses_with_path(node, ifname, ())}


def _addresses_with_path(node: Mapping[str, Any], ifname: str,
                         base: YPath) -> list[tuple[YPath, ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    found = []
    settings = (node.get("interfaces") or {}).get(ifname) or {}
    for index, text in enumerate(settings.get("addresses") or []):
        address = parse_cidr(str(text))
        if address is not None:
            found.append(((*base, "interfaces", ifname, "addresses", index), address.ip))
    return found


# --- gateways ------------------------------------------------------------------------------


def _connected(node: Mapping[str, Any]) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """(interface, network) the node reaches directly: addresses on interfaces that are up."""
    networks = []
    for _rel, ifname, settings in _settings_by_interface(node):
        if settings.get("state", "up") != "up":
            continue
        for text in settings.get("addresses") or []:
            address = parse_cidr(str(text))
            if address is not None:
                networks.append((ifname, address.network))
    return networks


def _check_gateways(node: Mapping[str, Any], base: YPath, problems: Problems) -> None:
    """A gateway must be on a subnet the node reaches directly when the route is added (the
    kernel refuses "Nexthop has invalid gateway"): an address of an up interface, or an
    earlier device route. IPv6 link-local gateways need a dev."""
    reachable = _connected(node)
    own = {ip for _, ip in ((i, parse_cidr(str(t))) for _, i, s in _settings_by_interface(node)
                              for t in s.get("addresses") or []) if ip is not None}
    own_ips = {a.ip for a in own}
    for index, route in enumerate(node.get("routes") or []):
        path = (*base, "routes", index)
        dev = str(route["dev"]) if "dev" in route else None
        gateway = parse_ip(str(route["via"])) if "via" in route else None
        if gateway is None:
            network = _route_network(str(route["to"]))
            if dev is not None and network is not None:
                reachable.append((dev, network))
            continue
        label = f"gateway {gateway} of route #{index + 1} in node {base[1]}"
        if gateway in own_ips:
            problems.add((*path, "via"), f"{label} is the node's own address", "the address of a neighbour")
        elif gateway.version == 6 and gateway.is_link_local:
            if dev is None:
                problems.add((*path, "via"), f"{label} is link-local, which needs the interface",
                             "dev: <interface> next to via")
        elif not any(gateway in net and (dev is None or dev == ifname) for ifname, net in reachable):
            on = f" through {dev}" if dev is not None else ""
            nets = ", ".join(dict.fromkeys(f"{net} ({i})" for i, net in reachable
                                            if net.version == gateway.version)) or "none"
            problems.add((*path, "via"), f"{label} is not on a subnet the node reaches directly{on} "
                         f"(its subnets: {nets}); the kernel would refuse the route",
                         "a gateway inside one of those subnets, or an address on the interface towards it")


def _route_network(to: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if to == "default":
        return None
    try:
        return ipaddress.ip_network(to, strict=False)
    except ValueError:
        return None
