"""Suites (tests/net) and their library (suitelib/) use the harness's public API only:
no private module, no ``_name``.

The public API is what a suite author is promised stays: markers and
fixtures, plus the modules below. Everything else (the plugin's internals,
the VM runner, journals, the planner) may change without notice, so a suite
that imports it breaks on the next refactor.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "tests" / "net"
SUITE_LIBRARY = REPO / "suitelib"

# module -> names a suite may import from it ("*": any public name)
PUBLIC: dict[str, frozenset[str] | str] = {
    "harness.testing": "*",
    "harness.run": "*",
    "harness.rtnl": "*",
    "harness.topology": frozenset({"load_topology", "load_topology_text", "TopologyError"}),
    "harness.topology.live": "*",
    "harness.topology.model": "*",
    "harness.topology.build": frozenset({"BuildError", "NETDEVSIM_BUS"}),
    "harness.netns": "*",
}


def private_imports(source: str) -> list[str]:
    """Each import of a non-public harness module or of a ``_private`` name, as "line: what" (pure)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in PUBLIC:  # "from harness import run" names a public module
                    continue
                allowed = PUBLIC.get(node.module)
                if alias.name.startswith("_") or allowed is None or (allowed != "*" and alias.name not in allowed):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "harness" and alias.name not in PUBLIC:
                    found.append(f"{node.lineno}: import {alias.name}")
    return found


def suite_files() -> list[Path]:
    """The suites and their shared library: both are written against the public API."""
    return sorted([*SUITES.rglob("*.py"), *SUITE_LIBRARY.rglob("*.py")])


@pytest.mark.parametrize("path", suite_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_suites_import_only_the_public_api(path: Path) -> None:
    assert private_imports(path.read_text()) == []


def test_the_check_catches_private_imports() -> None:
    """Negative control: what the suites used to do is caught."""
    source = (
        "from harness.fixtures import kernel_config, topology_for\n"
        "from harness import requires as req\n"
        "from harness.topology.live import _private\n"
        "import harness.vm.session\n"
        "from harness.topology.build import Applier\n"
    )
    assert private_imports(source) == [
        "1: from harness.fixtures import kernel_config",
        "1: from harness.fixtures import topology_for",
        "2: from harness import requires",
        "3: from harness.topology.live import _private",
        "4: import harness.vm.session",
        "5: from harness.topology.build import Applier",
    ]
    assert private_imports("from harness import testing, run\nfrom harness.run import run\n") == []
