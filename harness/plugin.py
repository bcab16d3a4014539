"""The pytest plugin: options, markers, fixtures and hook wiring only.

The work lives in ``fixtures.py`` (topologies, requirements) and
``harness.vm`` (running items inside a kernel under virtme-ng).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from . import fixtures

if TYPE_CHECKING:
    from .topology.live import LiveTopology


_MEMORY_RE = re.compile(r"^[1-9][0-9]*[KMGT]?$", re.IGNORECASE)


def memory_size(value: str) -> str:
    """A guest memory size as QEMU's -m takes it (``2G``, ``512M``, ``2048``); argparse type.

    Checked when the options are parsed, so a typo is one usage line, not a
    failed boot minutes later.
    """
    if not _MEMORY_RE.match(value.strip()):
        raise argparse.ArgumentTypeError(f"{value!r} is not a memory size (e.g. 2G, 512M, 2048 for MiB)")
    return value.strip()


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value} must be a positive number of seconds")
    return number


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
    group.addoption("--vm-memory", type=memory_size, default="2G", help="guest memory for --kernel (default 2G)")
    group.addoption("--vm-cpus", type=positive_int, default=2, help="guest vCPUs for --kernel (default 2)")
    group.addoption(
        "--vm-boot-timeout", type=positive_seconds, default=180.0,
        help="seconds a guest may take to boot (default 180)",
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
        "--run-deadline", type=positive_seconds, default=None, metavar="SECONDS",
        help="stop starting new tests after this many seconds; the rest are reported as not run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "topology(name, scope=\"function\"): build topologies/NAME.yaml for the test (scope=\"module\": once per "
        "module, checked unchanged after each test); use the 'topo' fixture"
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
    if config.getoption("kconfig_file"):
        # Read now: a missing or wrong file is one usage line before anything runs.
        fixtures.kernel_config(config.getoption("kconfig_file"))
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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose topology could not be resolved or loaded fails here, alone."""
    fixtures.fail_on_topology_problem(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Not root: a permission error while setting a test up is a skip naming root, not a traceback.

    Fixtures (the harness's and the suites' own) build namespaces and
    netdevsim devices; for a user other than root that fails with EPERM in
    every one of them. Decided here once rather than in each suite.
    """
    outcome = yield
    if call.when != "setup" or call.excinfo is None or os.geteuid() == 0:
        return
    if not fixtures.is_permission_error(call.excinfo.value):
        return
    report = outcome.get_result()
    reason = fixtures.root_skip_reason(os.geteuid())
    report.outcome = "skipped"
    line = item.location[1]
    report.longrepr = (str(item.path), (line or 0) + 1, f"Skipped: {reason}")


@pytest.fixture(scope="module")
def _netharness_module_topologies() -> Iterator[dict[str, LiveTopology]]:
    """Topologies marked scope="module", built once per test module and removed at its end."""
    shared: dict[str, LiveTopology] = {}
    try:
        yield shared
    finally:
        for live in shared.values():
            live.down()


@pytest.fixture
def topo(
    request: pytest.FixtureRequest, _netharness_module_topologies: dict[str, LiveTopology]
) -> Iterator[LiveTopology]:
    """The topology named by ``@pytest.mark.topology("NAME")``: built for this test, or with
    ``scope="module"`` shared by the module's tests and checked unchanged after each."""
    yield from fixtures.marked_topology(request, _netharness_module_topologies)


@pytest.fixture
def topology_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[str], LiveTopology]]:
    """Build topologies by name (or path) inside a test; all are removed afterwards."""
    from .topology.live import LiveTopology

    built: list[LiveTopology] = []

    def make(name: str) -> LiveTopology:
        topology = fixtures.topology_for(request.config, name, request.node.path)
        fixtures.skip_unless_root()
        live = LiveTopology.up(topology)
        built.append(live)
        return live

    try:
        yield make
    finally:
        for live in reversed(built):
            live.down()
