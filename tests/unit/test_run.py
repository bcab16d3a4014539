"""harness.run: the one command runner (argv rewriting is pure; running uses real programs)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from harness.run import LOCAL, CommandError, CommandNotFound, in_netns, run


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ip", "-j", "link"], ["ip", "-n", "ns1", "-j", "link"]),
        (["bridge", "fdb", "show"], ["bridge", "-n", "ns1", "fdb", "show"]),
        (["tc", "qdisc"], ["tc", "-n", "ns1", "qdisc"]),
        (["devlink", "-j", "dev"], ["devlink", "-N", "ns1", "-j", "dev"]),
        (["ethtool", "-k", "eth0"], ["ip", "netns", "exec", "ns1", "ethtool", "-k", "eth0"]),
        (["ping", "-c1", "10.0.0.1"], ["ip", "netns", "exec", "ns1", "ping", "-c1", "10.0.0.1"]),
    ],
)
def test_commands_reach_the_namespace_through_the_tools_own_option_or_ip_netns_exec(argv, expected):
    assert in_netns(argv, "ns1") == expected


def test_without_a_namespace_argv_is_unchanged_and_empty_is_refused():
    assert in_netns(["true"], None) == ["true"]
    with pytest.raises(ValueError):
        in_netns([], "ns1")


def test_a_passing_command_returns_its_output():
    proc = run(["sh", "-c", "echo out; echo err >&2"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "out\n", "err\n")


def test_a_failing_command_raises_with_status_output_and_place():
    with pytest.raises(CommandError) as info:
        run(["sh", "-c", "echo partial; echo broken >&2; exit 3"], where="node a")
    err = info.value
    assert (err.returncode, err.stdout, err.stderr, err.where) == (3, "partial\n", "broken\n", "node a")
    assert str(err).startswith("[node a] sh -c") and "exited 3" in str(err) and "stderr: broken" in str(err)
    assert isinstance(err, AssertionError)  # a failed command fails the test, not errors it


def test_check_false_returns_the_failure():
    assert run(["false"], check=False).returncode == 1


def test_input_and_json():
    assert run(["cat"], input='{"a": [1, 2]}', json=True) == {"a": [1, 2]}
    assert run(["true"], json=True) is None


def test_a_missing_program_is_named():
    with pytest.raises(CommandNotFound, match="tool 'no-such-tool-nh' not installed"):
        run(["no-such-tool-nh", "--x"])


class RecordingHost:
    """A second Host: shows that ``host=`` decides where the (rewritten) argv goes."""

    name = "peer"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def execute(self, argv: Sequence[str], *, input: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
        self.seen.append(list(argv))
        return LOCAL.execute(["sh", "-c", "exit 2"], input=input, timeout=timeout)


def test_host_runs_the_namespace_rewritten_argv_and_names_itself_in_errors():
    peer = RecordingHost()
    with pytest.raises(CommandError, match=r"^\[ns9\] ip link exited 2"):
        run(["ip", "link"], netns="ns9", host=peer)
    assert peer.seen == [["ip", "-n", "ns9", "link"]]
    with pytest.raises(CommandError, match=r"^\[peer\] true exited 2"):
        run(["true"], host=peer)
