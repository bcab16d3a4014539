"""Topology files: YAML text -> validated, immutable ``Topology``.

Three stages, each only when the previous one found nothing wrong, because
later stages assume what earlier ones guarantee:

1. parse with ruamel.yaml's round-trip loader, which keeps the line and
   column of every key and value and refuses duplicate keys;
2. validate against the JSON Schema (``harness/schema``), see
   ``schema_check``;
3. check cross-references the schema cannot express, see ``semantics``.

Each stage collects every problem it finds and raises one ``TopologyError``.
Then the document is turned into model objects, keeping the file's order of
nodes, interfaces, links and everything else: the planner relies on that
order to be deterministic. Nothing here needs root or touches the network;
the only I/O is reading the topology file and the schema.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import Problem, Problems, TopologyError, locate
from .model import (
    Bridge,
    BridgePort,
    DevlinkParam,
    Endpoint,
    Ethtool,
    InterfaceConfig,
    Link,
    Mptcp,
    MptcpEndpoint,
    MptcpLimits,
    NetdevsimDevice,
    Node,
    Requires,
    Route,
    Topology,
    Vlan,
)
from .schema_check import check_schema
from .semantics import check_semantics, link_ends, normalise_kconfig, parse_cidr, parse_vlan

DEFAULT_FILENAME = "<string>"


MAX_FILE_BYTES = 1 << 20  # the largest file in topologies/ is a few KiB
MAX_DEPTH = 24  # the schema's deepest value (a bridge port's VLAN flags) sits at depth 8
MAX_NODES = 200_000  # YAML values, aliases counted at every use ("billion laughs")


def load_topology(path: str | Path) -> Topology:
    """Load and validate a topology file; raise ``TopologyError`` listing every problem."""
    filename = str(path)
    text = read_topology_file(Path(path), filename)
    return _load(text, filename, Path(path))


def read_topology_file(path: Path, filename: str) -> str:
    """The text of a regular file of at most ``MAX_FILE_BYTES``, or a ``TopologyError``.

    Opened non-blocking, then checked with fstat on the open file (no race
    with a rename): a FIFO would otherwise block the reader forever, and a
    device such as /dev/zero never ends.
    """
    def refuse(message: str, hint: str = "the path of a topology file") -> TopologyError:
        return TopologyError([Problem(filename, 0, 0, message, hint)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise refuse("file not found") from None
    except OSError as exc:
        raise refuse(f"cannot read file: {exc.strerror}", "the path of a readable topology file") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise refuse(f"{kind}: topology files are regular files")
    if info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise refuse(f"file is {info.st_size} bytes; topology files are at most {MAX_FILE_BYTES} bytes",
                     "a smaller topology, or several files")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise refuse(f"cannot read file: {exc.strerror}", "the path of a readable topology file") from None
    if len(data) > MAX_FILE_BYTES:  # it grew while we read
        raise refuse(f"file is over {MAX_FILE_BYTES} bytes", "a smaller topology, or several files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                     "a UTF-8 encoded YAML file") from None


def load_topology_text(text: str, filename: str = DEFAULT_FILENAME) -> Topology:
    """Like ``load_topology`` for YAML already in memory; ``filename`` is used in messages."""
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise TopologyError([Problem(filename, 0, 0, f"text is over {MAX_FILE_BYTES} bytes",
                                     "a smaller topology")])
    return _load(text, filename, None if filename == DEFAULT_FILENAME else Path(filename))


def _load(text: str, filename: str, source: Path | None) -> Topology:
    doc = parse_yaml(text, filename)
    check_shape(doc, filename)
    problems = Problems(filename, doc)
    check_schema(doc, problems)
    problems.raise_if_any()
    check_semantics(doc, problems)
    problems.raise_if_any()
    return dataclasses.replace(build_topology(doc, source), source_text=text)


def check_shape(doc: Any, filename: str) -> None:
    """Refuse documents nested deeper or larger than any topology needs, before the
    recursive schema validator walks them. Iterative, so it cannot overflow the stack;
    aliases count at every place they are used, as the validator would walk them."""
    stack: list[tuple[Any, int, Any]] = [(doc, 1, doc)]
    seen = 0
    while stack:
        value, depth, top = stack.pop()
        seen += 1
        if depth > MAX_DEPTH or seen > MAX_NODES:
            line, col = _position(top)
            what = (f"nested {depth} levels deep; topologies need at most {MAX_DEPTH}" if depth > MAX_DEPTH
                    else f"more than {MAX_NODES} values (aliases counted where used)")
            raise TopologyError([Problem(filename, line, col, f"document is {what}",
                                         "a flat topology as in topologies/, without deep nesting or "
                                         "repeated aliases")])
        if isinstance(value, Mapping):
            children = list(value.keys()) + list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            continue
        where = value if hasattr(value, "lc") else top
        stack.extend((child, depth + 1, where) for child in children)


def _position(value: Any) -> tuple[int, int]:
    lc = getattr(value, "lc", None)
    if lc is None or lc.line is None:
        return 0, 0
    return lc.line + 1, lc.col + 1


# --- parsing -------------------------------------------------------------------------


def parse_yaml(text: str, filename: str) -> Any:
    """Round-trip parse (positions kept); YAML errors become a ``TopologyError``."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        doc = yaml.load(text)
    except RecursionError:
        raise TopologyError([Problem(filename, 0, 0, "the YAML is nested too deeply to read",
                                     f"a flat topology as in topologies/ (at most {MAX_DEPTH} levels)")]) from None
    except MarkedYAMLError as exc:
        raise TopologyError([_yaml_problem(exc, filename)]) from None
    except YAMLError as exc:  # reader errors (control characters) carry an offset, not a mark
        raise TopologyError([_reader_problem(exc, text, filename)]) from None
    if doc is None:
        raise TopologyError([Problem(filename, 1, 1, "the file is empty",
                                     "version: 1, name: ... and nodes: ... (see topologies/)")])
    return doc


def _reader_problem(exc: YAMLError, text: str, filename: str) -> Problem:
    position = getattr(exc, "position", None)
    line, col = 0, 0
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = str(getattr(exc, "reason", "") or str(exc).splitlines()[0])
    character = getattr(exc, "character", None)
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    if isinstance(character, int):
        reason = f"character U+{character:04X}: {reason}"
    return Problem(filename, line, col, f"not valid YAML: {reason}", "printable characters only (no control "
                   "characters); escape them inside a double-quoted string")


def _yaml_problem(exc: MarkedYAMLError, filename: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = (exc.problem or "").strip()
    duplicate = re.match(r'found duplicate key "(.*?)"', problem)
    if duplicate:
        key = duplicate[1]
        return Problem(filename, line, col, f"duplicate key {key!r} (YAML would silently keep only one)",
                       f"one {key!r} key in this mapping")
    context = f" {exc.context.strip()}" if exc.context else ""
    return Problem(filename, line, col, f"not valid YAML: {problem}{context}", _syntax_hint(problem))


def _syntax_hint(problem: str) -> str:
    """The usual causes of YAML syntax errors in topology files."""
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote values that contain ': ', e.g. description: \"a: b\""
    return "valid YAML; quote values containing ':', '#', '[', ']', '{' or '}'"


# --- building the model ----------------------------------------------------------------


def build_topology(doc: Mapping[str, Any], source: Path | None = None) -> Topology:
    """Model objects from a document that passed the schema and semantic checks."""
    requires = doc.get("requires") or {}
    defaults = doc.get("defaults") or {}
    return Topology(
        name=str(doc["name"]),
        nodes=tuple(_node(str(name), spec) for name, spec in doc["nodes"].items()),
        links=tuple(_links(doc)),
        description=str(doc.get("description", "")),
        requires=Requires(
            kconfig=tuple(dict.fromkeys(normalise_kconfig(str(k)) for k in requires.get("kconfig") or [])),
            tools=tuple(str(t) for t in requires.get("tools") or []),
            sysfs=tuple(str(s) for s in requires.get("sysfs") or []),
        ),
        default_sysctls=_sysctls(defaults.get("sysctls") or {}),
        version=int(doc["version"]),
        source=source,
    )


def _node(name: str, spec: Mapping[str, Any]) -> Node:
    return Node(
        name=name,
        interfaces=_interfaces(spec),
        routes=tuple(_route(r) for r in spec.get("routes") or []),
        sysctls=_sysctls(spec.get("sysctls") or {}),
        mptcp=_mptcp(spec["mptcp"]) if "mptcp" in spec else None,
        netdevsim=tuple(
            NetdevsimDevice(
                name=str(dev),
                ports=int(d["ports"]),
                port_names=tuple(str(p) for p in d.get("port_names") or []),
                queues=int(d["queues"]) if "queues" in d else None,
                params=tuple(_devlink_param(str(k), v) for k, v in (d.get("params") or {}).items()),
                eswitch=str(d["eswitch"]) if "eswitch" in d else None,  # type: ignore[arg-type]
            )
            for dev, d in (spec.get("netdevsim") or {}).items()
        ),
        bridges=tuple(_bridge(str(b), d) for b, d in (spec.get("bridges") or {}).items()),
        vlans=tuple(
            Vlan(name=str(v), link=str(d["link"]), id=int(d["id"])) for v, d in (spec.get("vlans") or {}).items()
        ),
    )


def _interfaces(spec: Mapping[str, Any]) -> tuple[InterfaceConfig, ...]:
    """``interfaces:`` entries in file order, then settings given inside ``vlans:`` entries."""
    configs = [_interface(str(n), s) for n, s in (spec.get("interfaces") or {}).items()]
    for name, vlan in (spec.get("vlans") or {}).items():
        if any(key in vlan for key in ("addresses", "mtu", "mac", "state")):
            configs.append(_interface(str(name), vlan))
    return tuple(configs)


def _interface(name: str, settings: Mapping[str, Any]) -> InterfaceConfig:
    addresses = tuple(parse_cidr(str(a)) for a in settings.get("addresses") or [])
    return InterfaceConfig(
        name=name,
        addresses=tuple(a for a in addresses if a is not None),
        mtu=int(settings["mtu"]) if "mtu" in settings else None,
        mac=str(settings["mac"]).lower() if "mac" in settings else None,
        state="down" if settings.get("state") == "down" else "up",
        ethtool=_ethtool(settings.get("ethtool") or {}),
    )


def cli_word(value: Any) -> str:
    """A YAML scalar as ethtool/devlink CLI words: booleans and on/off become on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _ethtool(spec: Mapping[str, Any]) -> Ethtool:
    def group(key: str) -> tuple[tuple[str, str], ...]:
        return tuple((str(k), cli_word(v)) for k, v in (spec.get(key) or {}).items())

    return Ethtool(features=group("features"), rings=group("rings"), channels=group("channels"),
                   coalesce=group("coalesce"), pause=group("pause"))


def _devlink_param(name: str, spec: Any) -> DevlinkParam:
    value, cmode = (spec.get("value"), spec.get("cmode", "runtime")) if isinstance(spec, Mapping) else (spec, "runtime")
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return DevlinkParam(name=name, value=text, cmode=cmode)


def _route(spec: Mapping[str, Any]) -> Route:
    to = str(spec["to"])
    return Route(
        to=to if to == "default" else str(ipaddress.ip_network(to)),
        via=ipaddress.ip_address(str(spec["via"])) if "via" in spec else None,
        dev=str(spec["dev"]) if "dev" in spec else None,
        metric=int(spec["metric"]) if "metric" in spec else None,
        table=int(spec["table"]) if "table" in spec else None,
    )


def _mptcp(spec: Mapping[str, Any]) -> Mptcp:
    limits = spec.get("limits")
    return Mptcp(
        limits=None if limits is None else MptcpLimits(
            subflows=_opt_int(limits, "subflows"), add_addr_accepted=_opt_int(limits, "add_addr_accepted")
        ),
        endpoints=tuple(
            MptcpEndpoint(
                address=ipaddress.ip_address(str(e["address"])),
                interface=str(e["interface"]) if "interface" in e else None,
                id=_opt_int(e, "id"),
                port=_opt_int(e, "port"),
                flags=tuple(str(f) for f in e.get("flags") or []),
            )
            for e in spec.get("endpoints") or []
        ),
    )


def _bridge(name: str, spec: Mapping[str, Any]) -> Bridge:
    ports = []
    for port, port_spec in (spec.get("ports") or {}).items():
        vlans = (parse_vlan(v) for v in port_spec.get("vlans") or [])
        ports.append(BridgePort(name=str(port), vlans=tuple(v for v in vlans if v is not None)))
    return Bridge(name=name, vlan_filtering=bool(spec.get("vlan_filtering", False)), ports=tuple(ports))


def _links(doc: Mapping[str, Any]) -> list[Link]:
    links = []
    for _, kind, ends in link_ends(doc):
        a, b = (Endpoint(node=e.node, interface=e.interface) for e in ends)
        links.append(Link(a=a, b=b, kind="netdevsim" if kind == "netdevsim" else "veth"))
    return links


def _sysctls(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Values as the strings written to /proc/sys; true/false become 1/0."""
    return tuple((str(k), sysctl_value(v)) for k, v in spec.items())


def sysctl_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _opt_int(spec: Mapping[str, Any], key: str) -> int | None:
    return int(spec[key]) if key in spec else None


# --- positions for later errors ---------------------------------------------------------


def setting_position(topology: Topology, path: tuple[str | int, ...]) -> str:
    """``file:line:col`` of the setting at ``path``, for errors found after loading (a
    build the kernel refused). Located in the text that was validated, so an edit of the
    file since cannot move it. Falls back to the file name alone, or "" for neither."""
    filename = str(topology.source) if topology.source is not None else DEFAULT_FILENAME
    if topology.source_text is None:
        return "" if topology.source is None else filename
    try:
        doc = parse_yaml(topology.source_text, filename)
    except TopologyError:
        return filename
    line, col = locate(doc, path, "key" if path and isinstance(path[-1], str) else "value")
    return f"{filename}:{line}:{col}" if line else filename
