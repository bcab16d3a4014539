"""The pytest plugin: options, markers, fixtures and hook wiring only.

The work lives in ``fixtures.py`` (topologies, requirements) and
``harness.vm`` (running items inside a kernel under virtme-ng).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from . import fixtures

if TYPE_CHECKING:
    from .topology.live import LiveTopology


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netharness", "kernel networking harness")
    group.addoption(
        "--kernel",
        metavar="PATH|default",
        help="run the selected tests inside this kernel (bzImage or build dir) under virtme-ng; "
        "'default' builds or reuses the default netharness kernel",
    )
    group.addoption("--kconfig-file", metavar="PATH", help="kernel .config to check requirements against")
    group.addoption(
        "--topology-dir", action="append", metavar="DIR", help="extra directory searched for topology files"
    )
    group.addoption("--vm-memory", default="2G", help="guest memory for --kernel (default 2G)")
    group.addoption("--vm-cpus", type=int, default=2, help="guest vCPUs for --kernel (default 2)")
    group.addoption(
        "--vm-boot-timeout", type=float, default=180.0, help="seconds a guest may take to boot (default 180)"
    )
    group.addoption(
        "--vm-no-bundle", action="store_true",
        help="let the guest import every Python module over 9p instead of from a zip in memory (slow; for debugging)",
    )
    group.addoption(
        "--vm-keep-consoles", action="store_true",
        help="keep the guest consoles (in ~/.cache/netharness/vm-runs) even when every test passed",
    )
    group.addoption(
        "--kmemleak", choices=("end", "off"), default="end",
        help="with --kernel: scan for kernel memory leaks when each VM finishes (default: end)",
    )
    group.addoption(
        "--run-deadline", type=float, default=None, metavar="SECONDS",
        help="stop starting new tests after this many seconds; the rest are reported as not run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "topology(name): build topologies/NAME.yaml for the test; use the 'topo' fixture"
    )
    config.addinivalue_line(
        "markers",
        "requires(kconfig=[], tools=[], sysfs=[]): skip naming what is missing when the kernel or "
        "machine lacks it",
    )
    config.addinivalue_line(
        "markers",
        "known_kernel_issue(pattern, reason=''): with --kernel, a console issue whose fingerprint matches "
        "the regex PATTERN makes a passing test xfail (a known bug of the kernel under test) instead of fail",
    )
    if config.getoption("kernel") and not _in_guest(config):
        from .vm.session import VMSession

        config.pluginmanager.register(VMSession(config), "netharness-vm")


def _in_guest(config: pytest.Config) -> bool:
    from .vm import guest

    return guest.running_in_guest()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Requirements describe the kernel the test runs on: with --kernel that is
    # the guest's, so only the guest session may decide.
    if config.getoption("kernel") and not _in_guest(config):
        return
    for item in items:
        fixtures.mark_if_unmet(item)


@pytest.fixture
def topo(request: pytest.FixtureRequest) -> Iterator[LiveTopology]:
    """The topology named by ``@pytest.mark.topology("NAME")``, built for this test."""
    live = fixtures.build_marked_topology(request)
    try:
        yield live
    finally:
        live.down()


@pytest.fixture
def topology_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[str], LiveTopology]]:
    """Build topologies by name (or path) inside a test; all are removed afterwards."""
    from .topology.live import LiveTopology

    built: list[LiveTopology] = []

    def make(name: str) -> LiveTopology:
        live = LiveTopology.up(fixtures.topology_for(request.config, name))
        built.append(live)
        return live

    try:
        yield make
    finally:
        for live in reversed(built):
            live.down()
