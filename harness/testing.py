"""The harness's public API for suites, beside its markers and fixtures.

Suites import from here (and from ``harness.run``, ``harness.topology``,
``harness.topology.live``), never the plugin's internals: the unit test
``test_public_api.py`` enforces it. For a test that needs a topology, the
marker and the ``topo`` fixture are the API:

    @pytest.mark.topology("mptcp-2path")                   # built for each test
    @pytest.mark.topology("tcp-ao-pair", scope="module")   # shared, checked after each test

For a suite fixture that builds a topology itself (its own scope, or a
hardware alternative), the function form:

    topology = topology_or_skip(request.config, "switchdev-nsim")
    with LiveTopology.up(topology) as live: ...
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import fixtures
from . import requires as req
from .topology.model import Topology

__all__ = ["load", "topology_or_skip", "unmet"]


def load(config: pytest.Config, name: str, test_path: Path | None = None) -> Topology:
    """The topology ``name`` (looked up as for the marker), loaded and cached for the session.

    Called while collecting, this also imports the YAML and schema stack in
    that phase, which a TCG guest cannot do later inside a test.
    """
    return fixtures.topology_for(config, name, test_path)


def unmet(config: pytest.Config, topology: Topology) -> list[str]:
    """What the kernel (or ``--kconfig-file``) and the machine lack of the topology's ``requires``."""
    return req.missing(topology.requires, fixtures.kernel_config(config.getoption("kconfig_file")))


def topology_or_skip(config: pytest.Config, name: str, test_path: Path | None = None) -> Topology:
    """The topology ``name``; skips the caller naming every requirement this machine lacks."""
    topology = load(config, name, test_path)
    reasons = unmet(config, topology)
    if reasons:
        pytest.skip("; ".join(reasons))
    return topology
