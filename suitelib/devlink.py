"""Parsers for iproute2 ``devlink`` output: ``devlink -j``, ``devlink mon``,
``devlink dev flash`` progress text and error text.

Pure functions (no I/O), tested on output captured from a 6.12 kernel with
iproute2 6.1 (``tests/unit/test_devlink_lib.py``). The suites in
``tests/net/devlink`` run the commands and hand the text or parsed JSON here.

Conventions of ``devlink -j`` that these functions absorb:

- Every answer is wrapped twice: ``{"port": {"netdevsim/netdevsim4000/0":
  {...}}}``; object keys are the devlink handle, or the handle plus a port
  index, region name or rate object name.
- Sizes that have no limit are the string ``"unlimited"`` (a u64 of all ones
  on the wire); :func:`size_value` maps them to ``None``.
- ``region read``/``region dump`` repeat the keys ``address`` and ``data``
  inside one object, one pair per 256-byte line; plain ``json.loads`` keeps
  only the last pair, :func:`region_bytes` keeps them all.
- Rates (``tx_share``, ``tx_max``) are bytes per second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

UNLIMITED = "unlimited"
U64_MAX = (1 << 64) - 1
BYTES_PER_MBIT = 125_000  # 1 Mbit/s in bytes per second, devlink's rate unit


def handle(dev_id: int) -> str:
    """The devlink handle of netdevsim device ``dev_id``: ``netdevsim/netdevsimN``."""
    return f"netdevsim/netdevsim{dev_id}"


def loads(text: str) -> Any:
    """``json.loads`` that tolerates an empty answer (returns None)."""
    return json.loads(text) if text.strip() else None


def _section(doc: Any, key: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or key not in doc:
        raise ValueError(f"devlink JSON has no {key!r} section: {str(doc)[:200]}")
    section = doc[key]
    return section if isinstance(section, dict) else {}


def _children(doc: Any, key: str, dev: str) -> dict[str, Any]:
    """Objects below ``dev`` (``dev/NAME`` keys) in section ``key``, by NAME."""
    prefix = dev + "/"
    return {k.removeprefix(prefix): v for k, v in _section(doc, key).items() if k.startswith(prefix)}


# --- devices ----------------------------------------------------------------------


def devices(doc: Any) -> dict[str, dict[str, Any]]:
    """``devlink -j dev show``: handle -> attributes (empty dict when none)."""
    return {k: (v or {}) for k, v in _section(doc, "dev").items()}


def dev_info(doc: Any, dev: str) -> dict[str, Any]:
    """``devlink -j dev info``: driver, serial_number (if any) and versions of ``dev``."""
    info = _section(doc, "info")
    if dev not in info:
        raise KeyError(f"{dev} not in dev info answer (devices: {sorted(info)})")
    return info[dev]


def reload_stats(doc: Any, dev: str) -> dict[tuple[str, str, str], int]:
    """``devlink -j -s dev show``: (``reload``|``remote_reload``, action, limit) -> count."""
    stats = devices(doc)[dev].get("stats", {})
    out: dict[tuple[str, str, str], int] = {}
    for kind, actions in stats.items():
        for action, limits in actions.items():
            for limit, value in limits.items():
                out[(kind, action, limit)] = value
    return out


def eswitch_mode(doc: Any, dev: str) -> str:
    """``devlink -j dev eswitch show``: ``legacy`` or ``switchdev``."""
    return devices(doc)[dev]["mode"]


def reload_actions_performed(doc: Any) -> list[str]:
    """``devlink -j dev reload ... action A``: the actions the driver reports it performed."""
    return list(_section(doc, "reload").get("reload_actions_performed", []))


# --- ports --------------------------------------------------------------------------


def ports(doc: Any, dev: str) -> dict[int, dict[str, Any]]:
    """``devlink -j port show``: port index -> attributes, only the ports of ``dev``."""
    return {int(k): v for k, v in _children(doc, "port", dev).items()}


def port_netdevs(doc: Any, dev: str) -> dict[int, str]:
    """Port index -> netdev name, for ports that have a netdev."""
    return {i: p["netdev"] for i, p in ports(doc, dev).items() if "netdev" in p}


# --- params ---------------------------------------------------------------------------


def params(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j dev param show``: name -> {cmode: value} (types: :func:`param_types`)."""
    out: dict[str, dict[str, Any]] = {}
    for p in _section(doc, "param").get(dev, []):
        out[p["name"]] = {v["cmode"]: v.get("value") for v in p.get("values", [])}
    return out


def param_types(doc: Any, dev: str) -> dict[str, str]:
    """name -> ``generic`` or ``driver-specific``."""
    return {p["name"]: p["type"] for p in _section(doc, "param").get(dev, [])}


# --- resources ------------------------------------------------------------------------


def size_value(value: Any) -> int | None:
    """A resource size as an int, or None for ``unlimited``."""
    if value == UNLIMITED:
        return None
    return int(value)


def resources(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j resource show``: ``IPv4/fib``-style path -> attributes of that resource.

    The nested ``resources`` lists are flattened; each entry keeps its own
    attributes (``size``, ``size_new``, ``occ``, ``size_valid``...) as printed.
    """
    out: dict[str, dict[str, Any]] = {}

    def walk(items: Iterable[dict[str, Any]], prefix: str) -> None:
        for item in items:
            path = f"{prefix}{item['name']}"
            out[path] = {k: v for k, v in item.items() if k != "resources"}
            walk(item.get("resources", []), path + "/")

    walk(_section(doc, "resources").get(dev, []), "")
    return out


# --- regions ---------------------------------------------------------------------------


def regions(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j region show``: region name -> {size, snapshot: [ids], max}."""
    return _children(doc, "regions", dev)


def new_snapshot_id(doc: Any, dev: str, region: str) -> int:
    """``devlink -j region new DEV/REGION`` (no id given): the id the kernel picked."""
    ids = regions(doc, dev)[region]["snapshot"]
    if len(ids) != 1:
        raise ValueError(f"expected one new snapshot id, got {ids}")
    return int(ids[0])


def region_chunks(text: str) -> list[tuple[int, bytes]]:
    """``devlink -j region read|dump`` text -> [(address, bytes)] in output order.

    The answer is ``{"dump"|"read": {"address": A, "data": [...], "address":
    B, "data": [...], ...}}``: repeated keys, so it is parsed pair by pair.
    """
    def keep_pairs(pairs: list[tuple[str, Any]]) -> Any:
        return pairs

    top = json.loads(text, object_pairs_hook=keep_pairs)
    if len(top) != 1 or top[0][0] not in ("dump", "read"):
        raise ValueError(f"not a region read/dump answer: {text[:200]}")
    chunks: list[tuple[int, bytes]] = []
    address: int | None = None
    for key, value in top[0][1]:
        if key == "address":
            address = int(value)
        elif key == "data":
            if address is None:
                raise ValueError("region data without an address")
            chunks.append((address, bytes(value)))
            address = None
    return chunks


def region_bytes(text: str) -> tuple[int, bytes]:
    """(start address, contiguous bytes) of a region read or dump answer."""
    chunks = region_chunks(text)
    if not chunks:
        return 0, b""
    start = chunks[0][0]
    data = bytearray()
    for address, chunk in chunks:
        if address != start + len(data):
            raise ValueError(f"region data not contiguous at {address:#x} (expected {start + len(data):#x})")
        data += chunk
    return start, bytes(data)


# --- health ----------------------------------------------------------------------------


def reporters(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j health show``: reporter name -> {state, error, recover, ...}."""
    return {r["reporter"]: {k: v for k, v in r.items() if k != "reporter"} for r in _section(doc, "health").get(dev, [])}


# --- traps ------------------------------------------------------------------------------


def traps(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j [-s] [-v] trap show``: trap name -> {type, generic, action, group, ...}."""
    return {t["name"]: {k: v for k, v in t.items() if k != "name"} for t in _section(doc, "trap").get(dev, [])}


def trap_groups(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j [-s] trap group show``: group name -> {generic, policer?, stats?}."""
    return {
        g["name"]: {k: v for k, v in g.items() if k != "name"} for g in _section(doc, "trap_group").get(dev, [])
    }


def trap_policers(doc: Any, dev: str) -> dict[int, dict[str, Any]]:
    """``devlink -j [-s] trap policer show``: policer id -> {rate, burst, stats?}."""
    return {
        int(p["policer"]): {k: v for k, v in p.items() if k != "policer"}
        for p in _section(doc, "trap_policer").get(dev, [])
    }


def rx_stats(entry: dict[str, Any]) -> dict[str, int]:
    """The ``stats.rx`` counters of a trap, group or policer entry ({} without -s)."""
    return dict(entry.get("stats", {}).get("rx", {}))


# --- rate objects -------------------------------------------------------------------------


def rates(doc: Any, dev: str) -> dict[str, dict[str, Any]]:
    """``devlink -j port function rate show``: object -> attributes.

    Leaves are named by their port index (``"128"``), nodes by their name
    (``"group1"``); ``tx_share``/``tx_max`` are bytes per second.
    """
    return _children(doc, "rate", dev)


def mbit_to_bytes(mbit: int) -> int:
    return mbit * BYTES_PER_MBIT


def bytes_to_mbit(value: int) -> float:
    return value / BYTES_PER_MBIT


# --- errors ---------------------------------------------------------------------------------

_KERNEL_ANSWERS = "kernel answers: "


@dataclass(frozen=True)
class DevlinkError:
    """What a failed (or warned) devlink command said on stderr.

    ``message``: the kernel's extended ACK text (``Error: X.``), without the
    ``Error: `` prefix and the final period, and without a driver prefix
    like ``netdevsim: `` (kept in ``driver``); ``kernel``: the errno text of
    ``kernel answers: ...`` (``No such device``); ``warnings``: extack
    warnings (``Warning: ...``); ``other``: lines printed by iproute2 itself
    (argument parsing errors, which never reached the kernel).
    """

    message: str | None = None
    driver: str | None = None
    kernel: str | None = None
    warnings: tuple[str, ...] = ()
    other: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        parts = []
        if self.message:
            parts.append(f"Error: {self.driver + ': ' if self.driver else ''}{self.message}")
        if self.kernel:
            parts.append(f"kernel answers: {self.kernel}")
        parts += [f"Warning: {w}" for w in self.warnings]
        parts += list(self.other)
        return "; ".join(parts) or "(no message)"


def _strip_message(text: str) -> tuple[str | None, str]:
    text = text.strip()
    if text.endswith("."):
        text = text[:-1]
    m = re.match(r"^([a-z0-9_]+): (.*)$", text)
    if m:  # NL_SET_ERR_MSG_MOD prefixes the module name
        return m.group(1), m.group(2)
    return None, text


def parse_error(stderr: str) -> DevlinkError:
    """Split devlink's stderr into extack message, errno text, warnings and the rest."""
    message = driver = kernel = None
    warnings: list[str] = []
    other: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Error: "):
            driver, message = _strip_message(line.removeprefix("Error: "))
        elif line.startswith("Warning: "):
            warnings.append(_strip_message(line.removeprefix("Warning: "))[1])
        elif line.startswith(_KERNEL_ANSWERS):
            kernel = line.removeprefix(_KERNEL_ANSWERS)
        else:
            other.append(line)
    return DevlinkError(message, driver, kernel, tuple(warnings), tuple(other))


# --- flash progress and the event monitor ------------------------------------------------------


@dataclass(frozen=True)
class FlashStatus:
    """One status line printed by ``devlink dev flash`` (not a terminal: no percentages)."""

    message: str
    component: str | None = None


def flash_output(text: str) -> list[FlashStatus]:
    """``devlink dev flash`` stdout -> status lines, ``[component] message`` split."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = re.match(r"^\[([^\]]+)\] (.*)$", line)
        out.append(FlashStatus(m.group(2), m.group(1)) if m else FlashStatus(line))
    return out


@dataclass(frozen=True)
class MonitorEvent:
    """One event line of ``devlink mon``: ``[obj,cmd] HANDLE: rest``.

    Continuation lines (indented attribute blocks) are joined into ``body``.
    """

    obj: str
    cmd: str
    handle: str | None
    body: str


_EVENT = re.compile(r"^\s*\[(?P<obj>[a-z-]+),(?P<cmd>[a-z]+)\]\s*(?P<rest>.*)$")


def monitor_events(text: str) -> list[MonitorEvent]:
    """Parse ``devlink mon`` text output into events, in order."""
    events: list[tuple[str, str, str | None, list[str]]] = []
    for raw in text.splitlines():
        m = _EVENT.match(raw)
        if m:
            rest = m.group("rest")
            hm = re.match(r"^(\S+):(?:\s+(.*))?$", rest)
            if hm and "/" in hm.group(1):
                events.append((m.group("obj"), m.group("cmd"), hm.group(1), [hm.group(2) or ""]))
            else:
                events.append((m.group("obj"), m.group("cmd"), None, [rest]))
        elif events and raw.strip():
            events[-1][3].append(raw.strip())
    return [MonitorEvent(o, c, h, " ".join(p for p in body if p).strip()) for o, c, h, body in events]


@dataclass(frozen=True)
class FlashEvent:
    """A flash notification seen by the monitor: begin, status or end."""

    kind: str  # begin | status | end
    handle: str | None
    message: str | None = None
    component: str | None = None
    done: int | None = None
    total: int | None = None


_FLASH_STATUS = re.compile(
    r"^msg (?P<msg>.*?)(?: component (?P<component>\S+))?(?: done (?P<done>\d+) total (?P<total>\d+))?$"
)


def flash_events(events: Iterable[MonitorEvent], dev: str | None = None) -> list[FlashEvent]:
    """The ``[flash,*]`` events (of ``dev`` if given), status lines parsed."""
    out = []
    for ev in events:
        if ev.obj != "flash" or (dev is not None and ev.handle != dev):
            continue
        if ev.cmd != "status":
            out.append(FlashEvent(ev.cmd, ev.handle))
            continue
        m = _FLASH_STATUS.match(ev.body)
        if not m:
            raise ValueError(f"unparsed flash status: {ev.body!r}")
        out.append(
            FlashEvent(
                "status",
                ev.handle,
                m.group("msg"),
                m.group("component"),
                int(m.group("done")) if m.group("done") else None,
                int(m.group("total")) if m.group("total") else None,
            )
        )
    return out
