"""Fixtures of the offloads suite: a netdevsim port with its debugfs knobs.

Every device belongs to the test's own topology copy, so knobs changed on
it vanish with it at teardown. Helpers live in suitelib/offload_port.py.
"""

from __future__ import annotations

import pytest

from harness.topology.live import LiveTopology

from suitelib.offload_port import Port, nsim_port


@pytest.fixture
def np0(topo: LiveTopology) -> Port:
    """Port np0 of offloads-nsim's netdevsim device (1 port, 4 queues)."""
    return nsim_port(topo, "dut", "nsim0", "np0")
