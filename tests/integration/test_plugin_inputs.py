"""The plugin facing bad input, seen as a user sees it: a subprocess ``pytest``
in a scratch project, its output and exit status.

Topologies here carry a ``requires: tools: [tool-from-WHERE]`` that no machine
has, so a test that names one is skipped at collection with a reason saying
which file was found: the lookup is observed without building anything.
Nothing here boots a VM: the ``--kernel`` refusals happen before any boot,
and a boot would blow the time limit these tests set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]


def topology(name: str, where: str) -> str:
    return (f"version: 1\nname: {name}\nrequires:\n  tools: [tool-from-{where}]\n"
            "nodes:\n  a: {}\n  b: {}\nlinks:\n  - [a:eth0, b:eth0]\n")


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
        user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NETHARNESS_", "PYTEST_"))}
    full_env.update(env or {})
    full_env.setdefault("NETHARNESS_CACHE", str(cwd / ".nh-cache"))
    full_env["COLUMNS"] = "400"  # summary lines untruncated
    return subprocess.run([*(user or []), *PYTEST, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project: an ini file (the rootdir), topologies/ and tests/."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "topologies").mkdir()
    (tmp_path / "tests").mkdir()
    return tmp_path


MIXED = '''
import pytest

@pytest.mark.topology("pair")
def test_good_topology():
    pass

@pytest.mark.topology("nope")
def test_unknown_topology():
    pass

@pytest.mark.topology("../../etc/passwd")
def test_not_a_name():
    pass

@pytest.mark.topology("broken")
def test_broken_topology():
    pass

def test_plain():
    pass
'''


def test_a_bad_topology_fails_only_the_tests_that_name_it(project: Path):
    (project / "topologies" / "pair.yaml").write_text(topology("pair", "root"))
    (project / "topologies" / "broken.yaml").write_text("version: 1\nname: broken\nnodes: 7\n")
    (project / "tests" / "test_mixed.py").write_text(MIXED)
    proc = run(["-rEs", "tests/test_mixed.py"], project)
    out = output(proc)
    assert proc.returncode == 1, out
    assert "1 passed, 1 skipped, 3 errors" in out, out  # failed in setup: pytest says "error"
    assert "ERROR tests/test_mixed.py::test_unknown_topology - Failed: topology 'nope' not found" in out
    assert ("ERROR tests/test_mixed.py::test_not_a_name - Failed: topology '../../etc/passwd' is not a "
            "topology name") in out
    assert "ERROR tests/test_mixed.py::test_broken_topology - Failed: " in out and "broken.yaml:3:8" in out
    assert "tool 'tool-from-root' not installed" in out  # the good one was found and read
    assert "Traceback" not in out and "INTERNALERROR" not in out


def test_deselecting_the_bad_tests_leaves_a_clean_run(project: Path):
    (project / "topologies" / "pair.yaml").write_text(topology("pair", "root"))
    (project / "tests" / "test_mixed.py").write_text(MIXED)
    proc = run(["-k", "plain or good", "tests/test_mixed.py"], project)
    assert proc.returncode == 0, output(proc)
    assert "1 passed, 1 skipped, 3 deselected" in output(proc)


LOOKUP = '''
import pytest

@pytest.mark.topology("pair")
def test_lookup():
    pass
'''


def test_lookup_order_test_dir_option_env_rootdir(project: Path):
    """Each place has its own 'pair'; remove the first-found one and the next one is found."""
    sub = project / "tests" / "sub"
    sub.mkdir()
    (sub / "test_lookup.py").write_text(LOOKUP)
    places = {
        "testdir": sub,
        "option": project / "opt-dir",
        "env": project / "env-dir",
        "root": project / "topologies",
    }
    for where, directory in places.items():
        directory.mkdir(exist_ok=True)
        (directory / "pair.yaml").write_text(topology("pair", where))
    env = {"NETHARNESS_TOPOLOGY_DIR": os.pathsep.join(["/nonexistent", str(places["env"])])}
    args = ["-rs", "--topology-dir", "opt-dir", "tests/sub/test_lookup.py"]
    for where, directory in places.items():
        out = output(run(args, project, env=env))
        assert f"tool 'tool-from-{where}' not installed" in out, (where, out)
        (directory / "pair.yaml").unlink()
    out = output(run(args, project, env=env))
    assert "topology 'pair' not found" in out and "1 error" in out, out
    assert str(places["env"]) in out and str(project / "opt-dir") in out  # the message lists what it searched


def test_space_separated_path_options_do_not_lose_the_projects_topologies(project: Path, tmp_path_factory):
    """``--kconfig-file PATH`` (space form) makes pytest consider PATH for the rootdir;
    the project's topologies/ must still be found, as with ``--kconfig-file=PATH``."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    config = elsewhere / "config"
    config.write_text("CONFIG_NET=y\n")
    (project / "pytest.ini").unlink()  # no ini: the rootdir is derived from the arguments
    (project / "topologies" / "pair.yaml").write_text(topology("pair", "root"))
    (project / "tests" / "test_lookup.py").write_text(LOOKUP)
    for spelling in (["--kconfig-file", str(config)], [f"--kconfig-file={config}"]):
        out = output(run(["-rs", *spelling, "tests/test_lookup.py"], project))
        assert "tool 'tool-from-root' not installed" in out, (spelling, out)


def test_kernel_that_is_not_a_kernel_is_refused_before_any_probe_or_boot(project: Path):
    (project / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    cache = project / "cache"
    for bad in ("/etc/passwd", "/dev/null", str(project), str(project / "missing")):
        started = time.monotonic()
        proc = run(["--kernel", bad, "tests"], project, env={"NETHARNESS_CACHE": str(cache)}, timeout=30)
        elapsed = time.monotonic() - started
        out = output(proc).strip()
        assert proc.returncode == 4, out  # pytest's usage error
        assert out.startswith(f"ERROR: --kernel {bad}: ") and len(out.splitlines()) == 1, out
        assert "bzImage" in out and "Traceback" not in out
        assert elapsed < 10, elapsed
        assert not (cache / "kvm-probe.json").exists()
        assert not (cache / "vm-runs").exists()


def test_kconfig_file_problems_are_one_line_naming_the_file(project: Path):
    (project / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    good = project / "good.config"
    good.write_text("# CONFIG_X is not set\nCONFIG_NET=y\n")
    proc = run(["--kconfig-file", str(good), "tests"], project)
    assert proc.returncode == 0, output(proc)  # positive control
    cases = {
        str(project / "missing.config"): "does not exist",
        str(project): "is a directory",
        "/etc/passwd": "/etc/passwd:1: not a kernel .config",
    }
    text = project / "text.config"
    text.write_text("CONFIG_NET=y\nhello world\n")
    cases[str(text)] = f"{text}:2: not a kernel .config"
    for path, expected in cases.items():
        proc = run(["--kconfig-file", path, "tests"], project)
        out = output(proc).strip()
        assert proc.returncode == 4, out
        assert out.startswith("ERROR: --kconfig-file: ") and expected in out, out
        assert len(out.splitlines()) == 1 and ".config:1" not in out.replace(str(path), ""), out
        assert "INTERNALERROR" not in out and "Traceback" not in out


@pytest.mark.parametrize("args, expected", [
    (["--vm-memory", "lots"], "argument --vm-memory: 'lots' is not a memory size"),
    (["--vm-cpus", "0"], "argument --vm-cpus: 0 must be at least 1"),
    (["--vm-cpus", "-2"], "argument --vm-cpus: -2 must be at least 1"),
    (["--run-deadline", "-1"], "argument --run-deadline: -1 must be a positive number of seconds"),
    (["--vm-boot-timeout", "soon"], "argument --vm-boot-timeout: 'soon' is not a number of seconds"),
])
def test_bad_vm_option_values_are_usage_errors(project: Path, args: list[str], expected: str):
    (project / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    proc = run([*args, "tests"], project)
    out = output(proc)
    assert proc.returncode == 4 and expected in out, out
    assert "Traceback" not in out
    good = run(["--vm-memory", "512M", "--vm-cpus", "1", "--run-deadline", "5", "tests"], project)
    assert good.returncode == 0, output(good)  # positive control: good values pass


AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

NONROOT = '''
import pytest
from harness.topology.live import LiveTopology

@pytest.mark.topology("pair")
def test_with_topo(topo):
    pass

def test_with_factory(topology_factory):
    topology_factory("pair")

@pytest.fixture
def suite_fixture():
    # a suite making its own namespace, as some conftests do (unshare(2): EPERM unless root)
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

def test_with_suite_fixture(suite_fixture):
    pass

def test_plain():
    pass
'''


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_non_root_topology_tests_skip_naming_root():
    # pytest's tmp_path is under a 0700 directory of root's; nobody needs its own.
    with tempfile.TemporaryDirectory(prefix="nh-nonroot-") as scratch:
        _non_root_run(Path(scratch))


def _non_root_run(tmp_path: Path) -> None:
    project = tmp_path / "nonroot"
    (project / "topologies").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "topologies" / "pair.yaml").write_text(
        "version: 1\nname: pair\nnodes:\n  a: {}\n  b: {}\nlinks:\n  - [a:eth0, b:eth0]\n")
    (project / "test_nonroot.py").write_text(NONROOT)
    for path in (tmp_path, project, project / "topologies"):
        path.chmod(0o777)
    env = {"NETHARNESS_CACHE": str(project / "cache"), "HOME": str(project),
           }
    proc = run(["-rs", "test_nonroot.py"], project, env=env, user=AS_NOBODY)
    out = output(proc)
    assert "3 skipped, 1 passed" in out or "1 passed, 3 skipped" in out, out
    assert out.count("building topologies needs root (running as uid 65534)") == 3, out
    assert "PermissionError" not in out and "Traceback" not in out
    # Positive control: as root the same tests are not skipped for root.
    proc = run(["-rs", "test_nonroot.py", "-k", "plain or suite"], project, env=env)
    assert "needs root" not in output(proc), output(proc)
