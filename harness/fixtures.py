"""Implementations behind the plugin's markers and fixtures.

Kept out of ``plugin.py`` so that the plugin file stays glue: option
registration and hook wiring only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import requires as req
from .topology.errors import TopologyError
from .topology.model import Requires, Topology

if TYPE_CHECKING:
    from .topology.live import LiveTopology

# The YAML loader and pyroute2 (behind LiveTopology) are imported when a test
# first needs them: in a TCG guest they cost seconds that a run of tests
# without topologies should not pay.

TOPOLOGY_DIR_ENV = "NETHARNESS_TOPOLOGY_DIR"


def topology_dirs(config: pytest.Config) -> list[Path]:
    """Where topology names are looked up: --topology-dir, then <rootdir>/topologies."""
    dirs = [Path(d) for d in config.getoption("topology_dir") or []]
    dirs.append(Path(config.rootpath) / "topologies")
    return dirs


def resolve_topology_path(config: pytest.Config, name: str) -> Path:
    """A topology name (``mptcp-2path``) or a path to a YAML file."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    for directory in topology_dirs(config):
        for suffix in (".yaml", ".yml"):
            path = directory / f"{name}{suffix}"
            if path.is_file():
                return path
    searched = ", ".join(str(d) for d in topology_dirs(config))
    raise pytest.UsageError(f"topology {name!r} not found (searched {searched}; pass --topology-dir)")


@lru_cache(maxsize=None)
def _load(path: Path) -> Topology:
    from .topology.loader import load_topology

    return load_topology(path)


def topology_for(config: pytest.Config, name: str) -> Topology:
    path = resolve_topology_path(config, name)
    try:
        return _load(path.resolve())
    except TopologyError as exc:
        # A broken topology file is a usage error of the suite, not a test failure.
        raise pytest.UsageError(str(exc)) from None


@lru_cache(maxsize=1)
def kernel_config(explicit: str | None) -> req.KernelConfig | None:
    return req.load_kernel_config(explicit)


def item_requirements(item: pytest.Item) -> Requires:
    """Everything an item needs: its requires markers plus its topology's requires."""
    parts = [req.from_marker_kwargs(**m.kwargs) for m in item.iter_markers("requires")]
    marker = item.get_closest_marker("topology")
    if marker is not None and marker.args:
        parts.append(topology_for(item.config, marker.args[0]).requires)
    return req.merge(*parts)


def mark_if_unmet(item: pytest.Item) -> None:
    """Mark ``item`` skipped, naming every missing item, when its requirements
    are unmet. Done at collection so that the skip is reported at the test."""
    needs = item_requirements(item)
    if not (needs.kconfig or needs.tools or needs.sysfs):
        return
    config = kernel_config(item.config.getoption("kconfig_file"))
    reasons = req.missing(needs, config)
    if reasons:
        item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def build_marked_topology(request: pytest.FixtureRequest) -> LiveTopology:
    from .topology.live import LiveTopology

    marker = request.node.get_closest_marker("topology")
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the 'topo' fixture needs @pytest.mark.topology(\"NAME\")"
        )
    return LiveTopology.up(topology_for(request.config, marker.args[0]))
