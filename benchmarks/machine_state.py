"""What a topology run can change on the machine, as one comparable snapshot.

Shared by ``benchmarks/kill_topo_up.py``, ``benchmarks/topology_star.py``'s
generator users and ``tests/integration/test_crash_safety.py``: "the machine
is as before" means namespaces, root-namespace links, a few root sysctls
and netdevsim devices are unchanged. Namespaces that another live harness
run's journal (default state dir) claims are allowed to come and go: they
are someone else's, and told apart by journal, never by name pattern.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import netns as nsutil

SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv6/conf/all/disable_ipv6",
    "net/ipv6/conf/default/disable_ipv6",
    "net/core/somaxconn",
)
DEFAULT_RUNS = Path("/run/netharness/runs")


def others_namespaces(runs: Path = DEFAULT_RUNS) -> set[str]:
    """Namespaces other harness users' journals (default state dir) claim right now."""
    names: set[str] = set()
    for path in runs.glob("*.json"):
        try:
            data = json.loads(path.read_text())
            names.update(v for v in data.get("netns", {}).values() if isinstance(v, str))
        except (OSError, ValueError, AttributeError):
            continue
    return names


@dataclass(frozen=True)
class Machine:
    netns: frozenset[str]
    others: frozenset[str]
    links: frozenset[tuple[str, str]]
    sysctls: tuple[tuple[str, str], ...]
    netdevsim: frozenset[str]

    @classmethod
    def now(cls) -> "Machine":
        out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
        bus = Path("/sys/bus/netdevsim/devices")
        return cls(
            netns=frozenset(nsutil.list_names()),
            others=frozenset(others_namespaces()),
            links=frozenset((link["ifname"], link.get("link_type", "")) for link in json.loads(out)),
            sysctls=tuple((key, Path("/proc/sys", key).read_text().strip()) for key in SYSCTLS),
            netdevsim=frozenset(p.name for p in bus.iterdir()) if bus.is_dir() else frozenset(),
        )

    def changes_since(self, before: "Machine") -> dict[str, object]:
        """Everything that differs, except namespaces another live run's journal accounts for."""
        diff: dict[str, object] = {}
        new = self.netns - before.netns - self.others
        gone = before.netns - self.netns - before.others
        if new or gone:
            diff["netns"] = {"new": sorted(new), "gone": sorted(gone)}
        if self.links != before.links:
            diff["links"] = {"new": sorted(self.links - before.links), "gone": sorted(before.links - self.links)}
        if self.sysctls != before.sysctls:
            diff["sysctls"] = {"before": before.sysctls, "after": self.sysctls}
        if self.netdevsim != before.netdevsim:
            diff["netdevsim"] = {"before": sorted(before.netdevsim), "after": sorted(self.netdevsim)}
        return diff
