"""Bridge forwarding database and port flags, from ``bridge -j``.

``bridge -j fdb show br BR`` lists, per entry, the MAC, the port
(``ifname``), ``master`` (the bridge, for entries of the bridge's own FDB;
absent for entries of a port's own hardware/``self`` list), ``flags`` and
``state``: ``permanent`` for the bridge's own (local) addresses, ``static``
for user-added static entries, ``stale`` for a dynamic entry that has not
been refreshed recently, and ``""`` for a dynamic entry in use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DYNAMIC_STATES = frozenset({"", "reachable", "stale"})


@dataclass(frozen=True)
class FdbEntry:
    mac: str  # lower case
    ifname: str
    master: str | None
    state: str
    flags: tuple[str, ...] = ()
    vlan: int | None = None

    @property
    def learned(self) -> bool:
        """An entry the bridge learned from traffic: in its FDB, dynamic, not
        added by a driver (extern_learn) nor a port's own ``self`` entry."""
        return (
            self.master is not None
            and "self" not in self.flags
            and "extern_learn" not in self.flags
            and self.state in DYNAMIC_STATES
        )

    @property
    def local(self) -> bool:
        """The bridge's own address for this port (``permanent``, in its FDB)."""
        return self.master is not None and "self" not in self.flags and self.state == "permanent"


def parse_fdb(data: Iterable[dict[str, Any]] | None) -> list[FdbEntry]:
    """Entries from parsed ``bridge -j fdb show`` JSON (``None`` means empty)."""
    return [
        FdbEntry(
            mac=e["mac"].lower(),
            ifname=e["ifname"],
            master=e.get("master"),
            state=e.get("state", ""),
            flags=tuple(e.get("flags", ())),
            vlan=e.get("vlan"),
        )
        for e in data or ()
    ]


def fdb(node: Any, bridge: str) -> list[FdbEntry]:
    return parse_fdb(node.json(["bridge", "-j", "fdb", "show", "br", bridge]))


def learned(entries: Iterable[FdbEntry]) -> list[FdbEntry]:
    return [e for e in entries if e.learned]


def learned_ports(entries: Iterable[FdbEntry], mac: str) -> list[str]:
    """Ports on which ``mac`` is a learned entry (normally zero or one)."""
    mac = mac.lower()
    return [e.ifname for e in entries if e.learned and e.mac == mac]


@dataclass(frozen=True)
class BridgePort:
    ifname: str
    master: str | None
    state: str  # STP state: forwarding, blocking, disabled, ...
    learning: bool
    flood: bool
    mcast_flood: bool
    bcast_flood: bool | None  # absent from older iproute2


def parse_bridge_links(data: Iterable[dict[str, Any]] | None) -> dict[str, BridgePort]:
    """Ports from parsed ``bridge -j -d link show`` JSON, by name."""
    ports = {}
    for e in data or ():
        ports[e["ifname"]] = BridgePort(
            ifname=e["ifname"],
            master=e.get("master"),
            state=e.get("state", ""),
            learning=bool(e["learning"]),
            flood=bool(e["flood"]),
            mcast_flood=bool(e["mcast_flood"]),
            bcast_flood=e.get("bcast_flood"),
        )
    return ports


def bridge_port(node: Any, ifname: str) -> BridgePort:
    return parse_bridge_links(node.json(["bridge", "-j", "-d", "link", "show", "dev", ifname]))[ifname]
