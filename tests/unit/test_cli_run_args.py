"""``netharness run``'s pytest arguments (tests/net unless paths were given), and
the CLI's quiet exit on a closed pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import has_positional_path, pytest_value_options, run_args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def options() -> frozenset[str]:
    return pytest_value_options()


def test_value_options_come_from_pytest_and_its_plugins(options):
    # pytest's own, pytest-timeout's, xdist's and ours; flags are not among them.
    for option in ("-k", "-m", "-p", "--junitxml", "--timeout", "-n", "--kernel", "--vm-memory", "--kconfig-file"):
        assert option in options, option
    for flag in ("-v", "-x", "-q", "--lf", "--vm-no-bundle", "--collect-only"):
        assert flag not in options, flag


@pytest.mark.parametrize("extra, expected", [
    (["-k", "mptcp"], ["-k", "mptcp", "tests/net"]),
    (["--", "-k", "mptcp"], ["-k", "mptcp", "tests/net"]),  # README: netharness run --kernel default -- -k mptcp
    (["tests/net/bridge", "-k", "x"], ["tests/net/bridge", "-k", "x"]),
    (["-k", "x", "tests/unit"], ["-k", "x", "tests/unit"]),
    (["tests/net/mptcp/test_x.py::test_y"], ["tests/net/mptcp/test_x.py::test_y"]),
    (["--junitxml", "out.xml", "-m", "not slow"], ["--junitxml", "out.xml", "-m", "not slow", "tests/net"]),
    (["--junitxml=out.xml"], ["--junitxml=out.xml", "tests/net"]),
    (["--timeout", "30", "-n", "2", "-p", "no:randomly"], ["--timeout", "30", "-n", "2", "-p", "no:randomly",
                                                           "tests/net"]),
    (["-vk", "mptcp"], ["-vk", "mptcp", "tests/net"]),
    (["-kmptcp", "tests/net/tcp_ao"], ["-kmptcp", "tests/net/tcp_ao"]),
    (["-x", "tests/net/tcp_ao"], ["-x", "tests/net/tcp_ao"]),  # a flag takes no value: the path is a path
    ([], ["tests/net"]),
])
def test_run_args(options, extra, expected):
    assert run_args(None, extra, options) == expected


def test_kernel_goes_first_and_is_not_a_path(options):
    assert run_args("default", ["-k", "x"], options) == ["--kernel", "default", "-k", "x", "tests/net"]
    assert run_args("/k/bzImage", ["tests/net/bridge"], options) == ["--kernel", "/k/bzImage", "tests/net/bridge"]
    assert run_args(None, ["--kernel", "default", "-k", "x"], options)[-1] == "tests/net"


def test_positional_detection_is_pure_and_uses_the_given_table():
    # Negative control: without -k in the table, "mptcp" is a path.
    assert has_positional_path(["-k", "mptcp"], frozenset())
    assert not has_positional_path(["-k", "mptcp"], frozenset({"-k"}))
    assert has_positional_path(["--", "x"], frozenset())
    assert not has_positional_path(["--"], frozenset())


def _cli(code: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          **kwargs)


def test_broken_pipe_is_a_quiet_exit():
    code = (
        "import sys, harness.cli as cli\n"
        "def show(args):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "cli._cmd_topo_show = show\n"
        "sys.exit(cli.main(['topo', 'show']))\n"
    )
    proc = _cli(code)
    assert proc.returncode == 1
    assert proc.stderr == "", proc.stderr


def test_reader_closing_the_pipe_early_gives_no_traceback(tmp_path):
    """`netharness topo validate MANY | head -1`: far more output than a pipe holds."""
    files = [str(REPO / "topologies" / "netdevsim-basic.yaml")] * 3000
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "topo", "validate", *files], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.startswith(files[0].encode())
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 1  # Python's convention for a closed stdout
