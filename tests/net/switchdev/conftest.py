"""Fixtures of the switchdev suite: "the switch" whose ports the tests program.

By default the switch is netdevsim (topology ``switchdev-nsim``): node
``dut`` holds a 2-port device (swp1, swp2) whose driver mirrors every
route, nexthop and L3 stats request of the namespace into its model and
reports the result through the RTM_F_TRAP / RTM_F_OFFLOAD_FAILED flags.
When the environment names real switch ports
(``NETHARNESS_SWITCH_PORTS=swp1,swp2``, see suitelib/ports.py), the same
tests run on them in the initial namespace instead; tests that need
netdevsim's debugfs fault injection or devlink reload call
:meth:`Switch.require_nsim`, which skips there with the reason.

Commands run as ``ip -n NETNS ...`` / ``devlink -N NETNS ...`` (one process,
no ``ip netns exec``); debugfs is global and written from the test process.
Parsing lives in ``suitelib/switchdev.py`` (pure, unit-tested).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import testing
from harness.topology.live import LiveTopology
from suitelib.netdevsim import NetdevSimDev
from suitelib.ports import SwitchHardware, switch_hardware_from_env
from suitelib.switchdev_switch import PORT_ADDRS, Switch, reset

TOPOLOGY = "switchdev-nsim"
SUITE_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Load the topology file while collecting, as the plugin does for marked tests.

    In a TCG guest, importing the YAML/JSON-schema stack for the first time
    inside a test fails (``No module named 'importlib.readers'``); the
    loader caches the parsed topology, so the fixtures reuse this one.
    """
    if switch_hardware_from_env() is None and any(SUITE_DIR in item.path.parents for item in items):
        testing.load(config, TOPOLOGY)


def _netdevsim_switch(config: pytest.Config) -> Iterator[Switch]:
    live = LiveTopology.up(testing.topology_or_skip(config, TOPOLOGY))
    try:
        node = live["dut"]
        nsim = NetdevSimDev(dev_id=live.netdevsim_id("dut", "nsim0"), netns=node.netns)
        switch = Switch(ports=("swp1", "swp2"), netns=node.netns, node=node, topo=live, nsim=nsim)
        try:
            yield switch
        finally:
            switch.close()
    finally:
        live.down()


def _hardware_switch(hw: SwitchHardware) -> Iterator[Switch]:
    if len(hw.ports) < 2:
        pytest.skip("the switchdev suite needs two switch ports in NETHARNESS_SWITCH_PORTS")
    switch = Switch(ports=hw.ports[:2], netns=None, hardware=hw)
    try:
        for port, addrs in zip(switch.ports, PORT_ADDRS):
            was_up = "UP" in switch.ipj("link", "show", "dev", port)[0].get("flags", [])
            switch.ip("link", "set", "dev", port, "up")
            if not was_up:
                switch._cleanups.append(lambda p=port: switch.ip("link", "set", "dev", p, "down", check=False))
            for addr in addrs:
                switch.ip("address", "add", addr, "dev", port)
                switch._cleanups.append(lambda a=addr, p=port: switch.ip("address", "del", a, "dev", p, check=False))
        yield switch
    finally:
        reset(switch)
        switch.close()


@pytest.fixture(scope="module")
def _module_switch(request: pytest.FixtureRequest) -> Iterator[Switch]:
    hw = switch_hardware_from_env()
    if hw is not None:
        yield from _hardware_switch(hw)
    else:
        yield from _netdevsim_switch(request.config)


@pytest.fixture
def switch(_module_switch: Switch) -> Iterator[Switch]:
    """The switch under test, shared by a module's tests and reset after each.

    netdevsim in a topology built once per module, or the real ports of the
    environment. A test that deletes interfaces, reloads the device or
    changes resource sizes takes ``fresh_switch`` instead.
    """
    try:
        yield _module_switch
    finally:
        reset(_module_switch)


@pytest.fixture
def fresh_switch(request: pytest.FixtureRequest) -> Iterator[Switch]:
    """A netdevsim switch of the test's own (skips on real hardware: destructive)."""
    if switch_hardware_from_env() is not None:
        pytest.skip("needs netdevsim (deletes interfaces / reloads the device / changes resource sizes); "
                    "running on real switch ports")
    yield from _netdevsim_switch(request.config)


@pytest.fixture
def nsim(switch: Switch) -> NetdevSimDev:
    """The netdevsim device (skips on real hardware: the test needs its debugfs knobs)."""
    return switch.require_nsim("debugfs fault injection")
