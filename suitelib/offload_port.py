"""A netdevsim port (or any interface) of a live topology, with ethtool and debugfs helpers.

Used by tests/net/offloads. ``ethtool`` runs inside the node (``ip netns
exec``); debugfs and the netdevsim bus files are global and are written from
the test process (inside ``ip netns exec`` the remounted /sys hides
/sys/kernel/debug). Parsing lives in ``ethtool.py`` (pure, unit-tested).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.topology.live import LiveNode, LiveTopology

from suitelib import ethtool as et
from suitelib.netdevsim import NetdevSimDev


@dataclass(frozen=True)
class Port:
    """An interface of a node, with ethtool helpers; ``dev_id``/``index`` for netdevsim ports."""

    node: LiveNode
    ifname: str
    dev_id: int | None = None
    index: int = 0

    @property
    def dev(self) -> NetdevSimDev:
        """The netdevsim device this port belongs to (ValueError for a port of another driver)."""
        if self.dev_id is None:
            raise ValueError(f"{self.node.name}:{self.ifname} is not a netdevsim port")
        return NetdevSimDev(self.dev_id, self.node.netns)

    @property
    def dev_debugfs(self) -> Path:
        return self.dev.debugfs

    @property
    def debugfs(self) -> Path:
        return self.dev.port_debugfs(self.index)

    @property
    def bus_dir(self) -> Path:
        return self.dev.bus_dir

    def ethtool(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ethtool ARGS`` with the interface name substituted for ``{dev}``."""
        argv = ["ethtool", *(a.replace("{dev}", self.ifname) for a in args)]
        return self.node.run(argv, check=check)

    def refused(self, *args: str) -> str:
        """Run an ethtool command that must fail; return its stderr."""
        proc = self.ethtool(*args, check=False)
        assert proc.returncode != 0, f"ethtool {' '.join(args)} succeeded; it must be refused\n{proc.stdout}"
        return proc.stderr + proc.stdout

    def json(self, *args: str) -> Any:
        return self.node.json(["ethtool", "--json", *(a.replace("{dev}", self.ifname) for a in args)])

    def features(self) -> dict[str, et.Feature]:
        return et.parse_features(self.ethtool("-k", "{dev}").stdout)

    def rings(self) -> tuple[dict, dict]:
        return et.parse_max_current(self.ethtool("-g", "{dev}").stdout)

    def channels(self) -> tuple[dict, dict]:
        return et.parse_max_current(self.ethtool("-l", "{dev}").stdout)

    def pause(self) -> dict[str, bool]:
        return et.pause_flags(self.ethtool("-a", "{dev}").stdout)

    def coalesce(self) -> dict:
        return et.parse_coalesce(self.ethtool("-c", "{dev}").stdout)

    def ifindex(self) -> int:
        return self.node.link(self.ifname)["index"]


def nsim_port(topo: LiveTopology, node: str, device: str, ifname: str) -> Port:
    """A netdevsim port of the topology, skipping when debugfs is not mounted."""
    port = Port(node=topo[node], ifname=ifname, dev_id=topo.netdevsim_id(node, device))
    if not port.debugfs.is_dir():
        pytest.skip(f"netdevsim debugfs {port.debugfs} missing (CONFIG_DEBUG_FS not set or debugfs not mounted)")
    return port


