"""Pure parsers for the switchdev suite: route, nexthop and L3 hw-stats offload
state as iproute2 6.1 prints it in JSON, and rtnetlink route notifications.

A driver reports where a route lives through three flags (include/uapi/
linux/rtnetlink.h): RTM_F_OFFLOAD (forwarded by the ASIC), RTM_F_TRAP (the
ASIC traps matching packets to the CPU: netdevsim sets only this one) and
RTM_F_OFFLOAD_FAILED (the driver tried and failed). ``ip -j route`` shows
them as ``rt_offload``, ``rt_trap`` and ``rt_offload_failed``; ``ip -j
nexthop`` as ``offload`` and ``trap``. "In hardware" means offload or trap,
so the same assertion holds on netdevsim and on a real ASIC.

No I/O here: tests/unit/test_switchdev_lib.py runs these on output captured
in a VM (tests/unit/data/switchdev/).
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness import rtnl

# --- routes (ip -j route show) ------------------------------------------------

ROUTE_OFFLOAD = "rt_offload"
ROUTE_TRAP = "rt_trap"
ROUTE_OFFLOAD_FAILED = "rt_offload_failed"
ROUTE_HW_FLAGS = (ROUTE_OFFLOAD, ROUTE_TRAP, ROUTE_OFFLOAD_FAILED)


def loads(text: str) -> Any:
    """``json.loads`` that reads an empty answer (nothing matched) as an empty list."""
    return json.loads(text) if text.strip() else []


def route_flags(route: Mapping[str, Any]) -> frozenset[str]:
    """The hardware flags of one route entry (other flags such as ``onlink`` dropped)."""
    return frozenset(f for f in route.get("flags", ()) if f in ROUTE_HW_FLAGS)


def route_in_hw(route: Mapping[str, Any]) -> bool:
    """Offloaded or trapping: the ASIC holds the route."""
    flags = route_flags(route)
    return ROUTE_OFFLOAD in flags or ROUTE_TRAP in flags


def route_state(route: Mapping[str, Any]) -> str:
    """``offload_failed``, ``in_hw`` or ``none`` for one route entry."""
    flags = route_flags(route)
    if ROUTE_OFFLOAD_FAILED in flags:
        return "offload_failed"
    return "in_hw" if (ROUTE_OFFLOAD in flags or ROUTE_TRAP in flags) else "none"


def route_table(route: Mapping[str, Any]) -> str:
    """The table an entry lives in; iproute2 omits ``main``."""
    return str(route.get("table", "main"))


def route_tos(route: Mapping[str, Any]) -> int:
    """The TOS of an entry: iproute2 prints ``"tos": "0x08"`` and omits 0."""
    value = route.get("tos", 0)
    return int(value, 16) if isinstance(value, str) else int(value)


_SELECTOR_KEYS = {"dev": "dev", "metric": "metric", "table": "table", "via": "gateway", "tos": "tos"}


def parse_selector(selector: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``("10.1.0.0/24", "dev", "swp1", "metric", "1024")`` as :func:`select_routes` arguments.

    Like ``ip route show``, a selector without ``table`` means ``main``.
    """
    if not selector:
        raise ValueError("a route selector starts with the prefix")
    out: dict[str, Any] = {"dst": selector[0], "table": "main"}
    rest = list(selector[1:])
    if len(rest) % 2:
        raise ValueError(f"route selector {selector}: keys and values must pair up")
    for key, value in zip(rest[::2], rest[1::2]):
        if key not in _SELECTOR_KEYS:
            raise ValueError(f"route selector {selector}: unknown key {key!r}; use one of {sorted(_SELECTOR_KEYS)}")
        name = _SELECTOR_KEYS[key]
        out[name] = int(value, 0) if name in ("metric", "tos") else value
    return out


def route_devs(route: Mapping[str, Any]) -> tuple[str, ...]:
    """The egress devices of a route: one, or one per nexthop of a multipath route."""
    if "nexthops" in route:
        return tuple(nh.get("dev", "") for nh in route["nexthops"])
    return (route["dev"],) if "dev" in route else ()


def select_routes(
    routes: Iterable[Mapping[str, Any]],
    dst: str,
    *,
    dev: str | None = None,
    metric: int | None = None,
    table: str | int | None = None,
    gateway: str | None = None,
    tos: int | None = None,
) -> list[Mapping[str, Any]]:
    """Entries for ``dst`` matching the given attributes (None: any).

    IPv4 routes with metric 0 carry no ``metric`` key; ``dev`` matches a
    single-path route's device or any nexthop device of a multipath one.
    """
    found = []
    for route in routes:
        if route.get("dst") != dst:
            continue
        if dev is not None and dev not in route_devs(route):
            continue
        if metric is not None and int(route.get("metric", 0)) != metric:
            continue
        if table is not None and route_table(route) != str(table):
            continue
        if gateway is not None and route.get("gateway") != gateway:
            continue
        if tos is not None and route_tos(route) != tos:
            continue
        found.append(route)
    return found


def one_route(routes: Iterable[Mapping[str, Any]], dst: str, **attrs: Any) -> Mapping[str, Any]:
    """The single entry :func:`select_routes` finds; ValueError naming what was there otherwise."""
    routes = list(routes)
    found = select_routes(routes, dst, **attrs)
    if len(found) != 1:
        raise ValueError(f"{len(found)} routes match {dst} {attrs}; routes: {json.dumps(routes)[:1500]}")
    return found[0]


# --- nexthops (ip -j nexthop show, ip -j nexthop bucket show) -------------------


def nexthops(doc: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """``ip -j nexthop show`` by id."""
    return {int(nh["id"]): nh for nh in doc}


def nexthop_flags(nh: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(nh.get("flags", ()))


def nexthop_in_hw(nh: Mapping[str, Any]) -> bool:
    flags = nexthop_flags(nh)
    return "offload" in flags or "trap" in flags


def group_members(nh: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(id, weight) of a group's members in order; weight 1 when iproute2 omits it."""
    return [(int(m["id"]), int(m.get("weight", 1))) for m in nh.get("group", ())]


def resilient_args(nh: Mapping[str, Any]) -> dict[str, Any]:
    """buckets, idle_timer, unbalanced_timer, unbalanced_time of a resilient group ({} otherwise)."""
    return dict(nh.get("resilient_args", {}))


def bucket_nhids(doc: Iterable[Mapping[str, Any]], *, in_hw_only: bool = True) -> Counter[int]:
    """How many buckets of ``ip -j nexthop bucket show`` point at each nexthop id.

    ``in_hw_only`` counts only buckets flagged offload/trap, as the selftest
    counts ``trap`` lines.
    """
    counts: Counter[int] = Counter()
    for entry in doc:
        if in_hw_only and not nexthop_in_hw(entry):
            continue
        counts[int(entry["bucket"]["nhid"])] += 1
    return counts


def bucket_indexes(doc: Iterable[Mapping[str, Any]], nhid: int | None = None) -> list[int]:
    """Bucket indexes, optionally only those pointing at ``nhid``."""
    return [
        int(e["bucket"]["index"]) for e in doc if nhid is None or int(e["bucket"]["nhid"]) == nhid
    ]


# --- L3 hw stats (ip -j stats show ... group offload) ---------------------------


@dataclass(frozen=True)
class HwStatsInfo:
    request: bool  # the user asked for L3 stats (ip stats set ... l3_stats on)
    used: bool  # some driver provides them


def l3_info(doc: Iterable[Mapping[str, Any]]) -> HwStatsInfo:
    """The ``l3_stats`` request/used pair from a ``subgroup hw_stats_info`` (or ``l3_stats``) answer."""
    for entry in doc:
        info = entry.get("info", {})
        if entry.get("subgroup") == "hw_stats_info" and "l3_stats" in info:
            info = info["l3_stats"]
        elif entry.get("subgroup") != "l3_stats":
            continue
        return HwStatsInfo(request=bool(info["request"]), used=bool(info["used"]))
    raise ValueError(f"no l3_stats info in {json.dumps(list(doc))[:500]}")


def l3_counters(doc: Iterable[Mapping[str, Any]]) -> dict[str, int] | None:
    """rx_/tx_ packets and bytes of ``subgroup l3_stats``; None when the kernel reported none."""
    for entry in doc:
        if entry.get("subgroup") != "l3_stats":
            continue
        stats = entry.get("stats64")
        if stats is None:
            return None
        return {f"{d}_{k}": int(v) for d in ("rx", "tx") for k, v in stats[d].items()}
    raise ValueError(f"no l3_stats subgroup in {json.dumps(list(doc))[:500]}")


# --- iproute2 error text --------------------------------------------------------


def extack(stderr: str) -> str | None:
    """The kernel's extack message from iproute2's stderr, driver prefix kept.

    ``Error: netdevsim: Exceeded number of supported fib entries.`` gives
    ``netdevsim: Exceeded number of supported fib entries``.
    """
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("Error: "):
            return line.removeprefix("Error: ").rstrip(".")
    return None


# --- rtnetlink route notifications ------------------------------------------------

RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_F_OFFLOAD = 0x4000
RTM_F_TRAP = 0x8000
RTM_F_OFFLOAD_FAILED = 0x20000000
RTA_DST = 1
RTA_OIF = 4
RTA_PRIORITY = 6
RTA_TABLE = 15
RTNLGRP_IPV4_ROUTE = 7
RTNLGRP_IPV6_ROUTE = 11
NLMSG_ERROR = 2
NLMSG_DONE = 3

_RTMSG = struct.Struct("=BBBBBBBBI")


@dataclass(frozen=True)
class RouteEvent:
    """One RTM_NEWROUTE/RTM_DELROUTE notification."""

    kind: str  # "new" or "del"
    family: int
    dst: str  # prefix/len
    table: int
    metric: int | None
    oif: int | None
    rtm_flags: int

    @property
    def trap(self) -> bool:
        return bool(self.rtm_flags & RTM_F_TRAP)

    @property
    def offload(self) -> bool:
        return bool(self.rtm_flags & RTM_F_OFFLOAD)

    @property
    def offload_failed(self) -> bool:
        return bool(self.rtm_flags & RTM_F_OFFLOAD_FAILED)

    @property
    def in_hw(self) -> bool:
        return self.trap or self.offload


def _attrs(data: bytes) -> dict[int, bytes]:
    """type -> payload; the first of a repeated type wins (the kernel sends each once)."""
    attrs: dict[int, bytes] = {}
    for kind, payload in rtnl.attributes(data):
        attrs.setdefault(kind, payload)
    return attrs


def _prefix(family: int, raw: bytes | None, plen: int) -> str:
    import ipaddress

    if family == 2:
        addr = ipaddress.IPv4Address(raw) if raw else ipaddress.IPv4Address(0)
    else:
        addr = ipaddress.IPv6Address(raw) if raw else ipaddress.IPv6Address(0)
    return f"{addr}/{plen}"


def message_types(datagrams: Iterable[bytes]) -> list[int]:
    """nlmsg_type of every message in the datagrams, in order."""
    return [kind for data in datagrams for kind, _flags, _seq, _body in rtnl.split_messages(data)]


def route_events(datagrams: Iterable[bytes]) -> list[RouteEvent]:
    """Route notifications in netlink datagrams, in order; other messages skipped."""
    events = []
    for data in datagrams:
        for kind, _flags, _seq, body in rtnl.split_messages(data):
            if kind not in (RTM_NEWROUTE, RTM_DELROUTE) or len(body) < _RTMSG.size:
                continue
            family, dst_len, _src, _tos, table, _proto, _scope, _type, rtm_flags = _RTMSG.unpack_from(body)
            attrs = _attrs(body[_RTMSG.size :])
            if RTA_TABLE in attrs:
                table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            events.append(
                RouteEvent(
                    kind="new" if kind == RTM_NEWROUTE else "del",
                    family=family,
                    dst=_prefix(family, attrs.get(RTA_DST), dst_len),
                    table=table,
                    metric=struct.unpack("=I", attrs[RTA_PRIORITY][:4])[0] if RTA_PRIORITY in attrs else None,
                    oif=struct.unpack("=i", attrs[RTA_OIF][:4])[0] if RTA_OIF in attrs else None,
                    rtm_flags=rtm_flags,
                )
            )
    return events
