"""What a test may leave changed in a shared topology, as comparable values (pure).

Tests that share one topology (``@pytest.mark.topology(NAME, scope="module")``)
must hand it to the next test as they found it. Before and after each such
test the fixture takes a :class:`TopologyState` of every node (links,
addresses, routes of the main table, the sysctls the topology sets) and a
difference fails the test that made it, naming what changed; the topology is
then rebuilt for the next test.

Left out on purpose, because the kernel changes them by itself: IPv6
link-local addresses and routes (they appear after a link comes up,
asynchronously), address flags (tentative -> permanent), counters, neighbour
entries, and the local/multicast routing tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkState:
    ifname: str
    up: bool
    mtu: int
    master: str | None
    mac: str | None


@dataclass(frozen=True)
class NodeState:
    links: frozenset[LinkState] = frozenset()
    addresses: frozenset[tuple[str, str]] = frozenset()  # (ifname, "addr/prefix")
    routes: frozenset[tuple[str, str, str]] = frozenset()  # (dst/len, gateway, ifname)
    sysctls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TopologyState:
    nodes: dict[str, NodeState] = field(default_factory=dict)


def is_link_local(address: str) -> bool:
    """IPv6 link-local (fe80::/10): made by the kernel when a link comes up, not by tests."""
    head = address.split("/", 1)[0].lower()
    return head.startswith(("fe8", "fe9", "fea", "feb"))


def kept_addresses(pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset(p for p in pairs if not is_link_local(p[1]))


def kept_routes(routes: Iterable[tuple[str, str, str]]) -> frozenset[tuple[str, str, str]]:
    return frozenset(r for r in routes if not is_link_local(r[0]) and not r[0].lower().startswith("ff"))


def _set_diff(label: str, before: frozenset, after: frozenset) -> list[str]:
    out = []
    added, removed = sorted(map(str, after - before)), sorted(map(str, before - after))
    if added:
        out.append(f"{label} added: {', '.join(added)}")
    if removed:
        out.append(f"{label} removed: {', '.join(removed)}")
    return out


def differences(before: TopologyState, after: TopologyState) -> list[str]:
    """What changed, one line per node and kind; empty when the topology is as it was."""
    lines: list[str] = []
    for name in sorted(set(before.nodes) | set(after.nodes)):
        old, new = before.nodes.get(name, NodeState()), after.nodes.get(name, NodeState())
        changes = [
            *_set_diff("links", old.links, new.links),
            *_set_diff("addresses", old.addresses, new.addresses),
            *_set_diff("routes", old.routes, new.routes),
        ]
        changed_sysctls = [
            f"{key} {value!r} -> {dict(new.sysctls).get(key)!r}"
            for key, value in old.sysctls
            if dict(new.sysctls).get(key) != value
        ]
        if changed_sysctls:
            changes.append(f"sysctls changed: {', '.join(changed_sysctls)}")
        lines += [f"node {name}: {change}" for change in changes]
    return lines
