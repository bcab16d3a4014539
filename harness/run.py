"""One way to run a command: here, inside a network namespace, or (later) on a peer host.

Modelled on the kernel selftests' ``lib/py/utils.py`` ``cmd``/``ip(..., ns=,
host=)``: the topology engine, the fixtures and the suites all call ``run``,
so how a command reaches a namespace, how a failure is reported and what a
``json=True`` caller gets are decided here once.

- ``netns=NAME`` runs the command inside that named namespace. Tools that
  switch namespaces themselves (``ip``/``bridge``/``tc`` ``-n``, ``devlink
  -N``) get their own option: one process instead of two (``ip netns exec``
  plus the tool), which under TCG saves about 0.3 s a command. Anything else
  goes through ``ip netns exec``.
- ``host`` is where the command runs: ``LOCAL`` (this machine) by default;
  a remote peer (SSH) is another ``Host``.
- ``check`` (default) raises :class:`CommandError` on a non-zero exit, with
  the command, where it ran, and its output; a missing program raises
  :class:`CommandNotFound`.

Commands are argv lists, never shell strings.
"""

from __future__ import annotations

import json as jsonlib
import subprocess
from collections.abc import Sequence
from typing import Any, Protocol

DEFAULT_TIMEOUT = 60.0
# Tool -> its own "run in namespace NAME" option.
_NETNS_OPTION = {"ip": "-n", "bridge": "-n", "tc": "-n", "devlink": "-N"}
_OUTPUT_LIMIT = 2000  # characters of stdout kept in an error message


class CommandError(AssertionError):
    """A command failed; an AssertionError so that a test calling it fails (not errors).

    Carries what a report needs: the argv as the caller wrote it, where it
    ran, the exit status and both outputs.
    """

    def __init__(self, argv: Sequence[str], where: str, returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.where = where
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        out = stdout.strip()
        if len(out) > _OUTPUT_LIMIT:
            out = out[:_OUTPUT_LIMIT] + " ..."
        super().__init__(f"[{where}] {' '.join(argv)} exited {returncode}\nstdout: {out}\nstderr: {stderr.strip()}")


class CommandNotFound(CommandError):
    """The program is not installed where the command was to run."""

    def __init__(self, argv: Sequence[str], where: str) -> None:
        AssertionError.__init__(self, f"[{where}] tool {argv[0]!r} not installed ({' '.join(argv)})")
        self.argv, self.where, self.returncode, self.stdout, self.stderr = list(argv), where, 127, "", ""


class Host(Protocol):
    """Somewhere commands run: this machine, or a peer reached over SSH."""

    name: str

    def execute(self, argv: Sequence[str], *, input: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to completion, capturing text output; FileNotFoundError if the program is missing."""
        ...


class LocalHost:
    """This machine."""

    name = "local"

    def execute(self, argv: Sequence[str], *, input: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=timeout, check=False)


LOCAL = LocalHost()


def in_netns(argv: Sequence[str], netns: str | None) -> list[str]:
    """``argv`` rewritten to run inside the named namespace (pure).

    ``ip -j link`` becomes ``ip -n NS -j link``; ``ethtool -k eth0`` becomes
    ``ip netns exec NS ethtool -k eth0``.
    """
    argv = list(argv)
    if not argv:
        raise ValueError("empty command")
    if netns is None:
        return argv
    option = _NETNS_OPTION.get(argv[0])
    if option is not None:
        return [argv[0], option, netns, *argv[1:]]
    return ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    host: Host | None = None,
    check: bool = True,
    input: str | None = None,
    json: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    where: str | None = None,
) -> Any:
    """Run ``argv`` (in ``netns`` on ``host``); the CompletedProcess, or with ``json`` its parsed stdout.

    ``where`` names the place in error messages (a node name); by default the
    namespace or host. ``json=True`` returns None for empty output (``ip -j``
    prints nothing for an empty list in some versions).
    """
    target = host or LOCAL
    label = where or netns or target.name
    try:
        proc = target.execute(in_netns(argv, netns), input=input, timeout=timeout)
    except FileNotFoundError:
        raise CommandNotFound(argv, label) from None
    if check and proc.returncode != 0:
        raise CommandError(argv, label, proc.returncode, proc.stdout, proc.stderr)
    if json:
        return jsonlib.loads(proc.stdout) if proc.stdout.strip() else None
    return proc
