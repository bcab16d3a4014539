"""``@pytest.mark.topology(NAME, scope="module")`` in a real pytest run (root: it builds namespaces).

Tests of one module share one build; the test that leaves it changed fails
(at teardown, naming the change) and the next test gets a fresh build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="building topologies needs root")

PAIR = ("version: 1\nname: pair\nnodes:\n  a: {interfaces: {eth0: {addresses: [10.6.0.1/24]}}}\n"
        "  b: {interfaces: {eth0: {addresses: [10.6.0.2/24]}}}\nlinks:\n  - [a:eth0, b:eth0]\n")

TESTS = '''
import pytest

pytestmark = pytest.mark.topology("pair", scope="module")


def test_first(topo):
    print("RUN", topo.run_id)
    topo["a"].run(["ping", "-c1", "-W2", "10.6.0.2"])


def test_second_shares_the_build(topo):
    print("RUN", topo.run_id)


def test_leaks_an_address(topo):
    print("RUN", topo.run_id)
    topo["a"].run(["ip", "address", "add", "10.6.9.1/24", "dev", "eth0"])


def test_after_the_leak_gets_a_fresh_build(topo):
    print("RUN", topo.run_id)
    assert "10.6.9.1" not in topo["a"].run(["ip", "-4", "address", "show"]).stdout


@pytest.mark.topology("pair")
def test_function_scope_still_builds_its_own(topo):
    print("RUN", topo.run_id)
'''


def test_module_scope_shares_one_build_and_fails_the_test_that_leaks(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "topologies").mkdir()
    (tmp_path / "topologies" / "pair.yaml").write_text(PAIR)
    (tmp_path / "test_shared.py").write_text(TESTS)
    env = {**os.environ, "NETHARNESS_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "300"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "-rE", "test_shared.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    runs = re.findall(r"RUN (\w+)", out)
    assert len(runs) == 5, out
    first, second, leaky, after, own = runs
    assert first == second == leaky, out  # one build for the module
    assert after != leaky, out  # rebuilt after the leak
    assert own not in (first, after), out  # function scope: its own build
    assert proc.returncode == 1, out
    assert "5 passed, 1 error" in out, out
    assert "ERROR test_shared.py::test_leaks_an_address" in out, out
    assert "left the shared topology 'pair'" in out and "node a: addresses added: ('eth0', '10.6.9.1/24')" in out
    assert list((tmp_path / "state" / "runs").glob("*.json")) == []  # everything removed
