"""The ``netharness`` command line.

Subcommands map one to one onto library calls; this module only parses
arguments, prints, and turns known errors into exit codes (no tracebacks for
user errors).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .topology import Topology, TopologyError, load_topology

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _cmd_topo_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            topo = load_topology(path)
        except TopologyError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_FAIL
        else:
            print(f"{path}: ok ({topo.name}: {len(topo.nodes)} nodes, {len(topo.links)} links)")
            unmet = _unmet_here(topo)
            if unmet:
                print(f"{path}: note: here {'; '.join(unmet)}, so 'topo up' here would refuse "
                      "(the file is fine for a kernel that has them, e.g. pytest --kernel default)")
    return status


def _unmet_here(topo: "Topology") -> list[str]:
    """What the running kernel and machine lack of the topology's ``requires`` (never raises:
    an unreadable config is itself reported as missing)."""
    from . import requires as req

    try:
        config = req.load_kernel_config(None)
    except (OSError, ValueError) as exc:
        return [f"a readable kernel config ({exc})"]
    return req.missing(topo.requires, config)


def _cmd_topo_up(args: argparse.Namespace) -> int:
    """Build a topology that outlives this process.

    Refuses, creating nothing, when the machine lacks the topology's
    ``requires``. While building, SIGTERM and SIGHUP unwind like Ctrl-C, so
    the build's rollback runs (a further signal is ignored until it has);
    after a SIGKILL the journal says "incomplete" and `clean` removes it.
    Output comes only once the journal is saved complete.
    """
    import signal

    from . import requires as req
    from .topology.build import BuildError, build

    try:
        topo = load_topology(args.file)
    except TopologyError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    try:
        unmet = req.missing(topo.requires, req.load_kernel_config(None))
    except (OSError, ValueError) as exc:
        unmet = [f"a readable kernel config ({exc})"]
    if unmet:
        print(f"{args.file}: not brought up, nothing created: this machine lacks {'; '.join(unmet)}",
              file=sys.stderr)
        return EXIT_FAIL

    def interrupt(signum: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the rollback finish
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        journal, applier = build(topo, detached=True)
    except BuildError as exc:
        # The message names the file and line of the setting (or the file,
        # for a run-level refusal); saying the file again would only repeat it.
        where = "" if str(exc).startswith(str(args.file)) else f"{args.file}: "
        outcome = ("some of it could not be removed; run 'netharness clean'" if exc.left_behind
                   else "nothing of this run left behind")
        print(f"{where}{exc} (build failed; {outcome})", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{args.file}: interrupted while building, rolled back", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    applier.close()
    print(f"{topo.name} up, run {journal.run_id}")
    for node, netns in journal.netns.items():
        print(f"  {node}: ip netns exec {netns} ...")
    print(f"remove with: netharness topo down {journal.run_id}")
    return EXIT_OK


def _cmd_topo_down(args: argparse.Namespace) -> int:
    from .topology.build import TeardownError, teardown
    from .topology.runs import describe_set_aside, find_detached, scan_runs

    runs, invalid = scan_runs()
    for item in invalid:
        print(describe_set_aside(item), file=sys.stderr)
    matches = find_detached(args.name, runs)
    if not matches:
        print(f"no topology brought up with 'topo up' is named {args.name!r} (see 'netharness topo show')",
              file=sys.stderr)
        return EXIT_FAIL
    if len(matches) > 1:
        ids = ", ".join(j.run_id for j in matches)
        print(f"{args.name!r} is up {len(matches)} times; name one run id: {ids}", file=sys.stderr)
        return EXIT_FAIL
    notes: list[str] = []
    try:
        removed = teardown(matches[0], notes=notes)
    except TeardownError as exc:
        print(f"netharness topo down: {exc} (the journal is kept; retry, or 'netharness clean')", file=sys.stderr)
        return EXIT_FAIL
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{matches[0].topology} (run {matches[0].run_id}) down: removed {len(removed)} objects")
    return EXIT_OK


def _cmd_topo_show(args: argparse.Namespace) -> int:
    """List runs with their state; an unsound journal gets one line on stderr and is moved aside."""
    from .topology.runs import describe_set_aside, scan_runs

    runs, invalid = scan_runs()
    for item in invalid:
        print(describe_set_aside(item), file=sys.stderr)
    if not runs:
        print("no topologies")
        return EXIT_OK
    for run in runs:
        j = run.journal
        print(f"{j.run_id}  {j.topology:16}  {run.state:17}  pid {j.pid}  {j.source or ''}")
        for node, netns in j.netns.items():
            print(f"    {node}: netns {netns}")
        for key, dev_id in j.netdevsim.items():
            print(f"    {key}: netdevsim{dev_id}")
    return EXIT_OK


def _cmd_clean(args: argparse.Namespace) -> int:
    """Remove dead runs' objects (complete or not), set unsound journals aside, reap orphaned VMs."""
    from .topology.runs import clean_dead_runs, describe_set_aside

    from .host import cache_dir
    from .vm.reaper import reap_orphans

    result = clean_dead_runs()
    for item in result.invalid:
        print(describe_set_aside(item))
    for run_id, removed, notes in result.cleaned:
        print(f"run {run_id}: removed {', '.join(removed) if removed else 'nothing (already gone)'}")
        for note in notes:
            print(f"run {run_id}: {note}")
    for run_id, why in result.failed:
        print(f"run {run_id}: {why} (journal kept for the next clean)", file=sys.stderr)
    for run in result.kept:
        print(f"kept {run.journal.run_id} ({run.journal.topology}): {run.state}")
    reaped = reap_orphans(cache_dir() / "vm-runs")
    for vm_dir in reaped:
        print(f"killed the VM of {vm_dir}: its pytest process is gone")
    if not (result.cleaned or result.failed or result.invalid or reaped):
        print("nothing to clean")
    return EXIT_FAIL if result.failed else EXIT_OK


def _cmd_kernel_build(args: argparse.Namespace) -> int:
    from .kernel.build import KernelBuildError, build_kernel
    from .kernel.kconfig import KconfigError

    try:
        built = build_kernel(src=args.src, fragments=args.config or None, jobs=args.jobs, force=args.force)
    except (KernelBuildError, KconfigError) as exc:
        print(f"netharness kernel build: {exc}", file=sys.stderr)
        return EXIT_FAIL
    state = "cached, nothing to do" if built.cached else f"built in {built.seconds:.0f} s"
    print(f"{built.image} ({state}; source {built.source})")
    return EXIT_OK


DEFAULT_RUN_PATHS = ("tests/net",)
# If pytest's own parser cannot be built, these are the value-taking options we know of.
_FALLBACK_VALUE_OPTIONS = frozenset({
    "-k", "-m", "-n", "-p", "-c", "-o", "-r", "-W", "--kernel", "--kconfig-file", "--topology-dir",
    "--vm-memory", "--vm-cpus", "--vm-boot-timeout", "--kmemleak", "--run-deadline", "--timeout",
    "--junitxml", "--junit-xml", "--rootdir", "--confcutdir", "--basetemp", "--maxfail", "--tb",
    "--deselect", "--ignore", "--ignore-glob", "--dist", "--numprocesses", "--maxprocesses",
    "--durations", "--log-level", "--log-file", "--capture", "--import-mode", "--override-ini",
    "--config-file", "--inifile", "--log-cli-level", "--log-format", "--color", "--code-highlight",
    "--tx", "--rsyncdir", "--timeout-method", "--durations-min", "--report-log", "--cov",
})


def pytest_value_options() -> frozenset[str]:
    """Every pytest option (pytest's own and installed plugins') that takes a value.

    Asked of pytest's parser rather than listed by hand, so that a plugin
    option such as ``--timeout 30`` is not mistaken for a path. Options
    that conftest files add are not known before collection; their values
    are taken for paths (write ``--opt=value`` for those).
    """
    try:
        from _pytest.config import get_config

        config = get_config()
        config.pluginmanager.load_setuptools_entrypoints("pytest11")
        parser = config._parser
        optparser = getattr(parser, "optparser", None) or parser._getparser()
        options = {
            name
            for action in optparser._actions
            if action.option_strings and action.nargs != 0
            for name in action.option_strings
        }
    except Exception:  # a broken plugin must not stop `netharness run`: pytest will report it
        return _FALLBACK_VALUE_OPTIONS
    return frozenset(options) | _FALLBACK_VALUE_OPTIONS


def has_positional_path(pytest_args: Sequence[str], value_options: frozenset[str]) -> bool:
    """Whether ``pytest_args`` name a file, directory or node id to run (pure).

    A word is a positional unless it starts with '-' or is the value of the
    option before it (``-k mptcp``, ``--kernel default``); ``--opt=value`` and
    ``-kEXPR`` carry their value inside. After ``--`` every word is positional.
    """
    expecting_value = False
    for index, arg in enumerate(pytest_args):
        if expecting_value:
            expecting_value = False
            continue
        if arg == "--":
            return index + 1 < len(pytest_args)
        if arg.startswith("--"):
            expecting_value = "=" not in arg and arg in value_options
            continue
        if arg.startswith("-") and arg != "-":
            # A cluster of short options (-vk EXPR, -kEXPR): the first one that
            # takes a value takes the rest of the word, or the next word.
            for position, char in enumerate(arg[1:], start=1):
                if f"-{char}" in value_options:
                    expecting_value = position == len(arg) - 1
                    break
            continue
        return True
    return False


def run_args(kernel: str | None, extra: Sequence[str], value_options: frozenset[str]) -> list[str]:
    """pytest's argv for `netharness run` (pure): ``tests/net`` unless paths were given.

    The first ``--`` separates netharness's options from pytest's (README:
    ``netharness run --kernel default -- -k mptcp``); pytest must not see it,
    or it would take ``-k`` for a path.
    """
    argv = list(extra)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if kernel:
        argv = ["--kernel", kernel, *argv]
    if not has_positional_path(argv, value_options):
        argv += DEFAULT_RUN_PATHS
    return argv


def _cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """`netharness run [--kernel K] PYTEST-ARGS`: pytest with the plugin's options,
    on tests/net unless PYTEST-ARGS name paths (see ``run_args``)."""
    import pytest

    return int(pytest.main(run_args(args.kernel, extra, pytest_value_options())))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netharness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    topo = sub.add_parser("topo", help="topology files: validate, bring up, tear down")
    topo_sub = topo.add_subparsers(dest="topo_command", required=True)
    p = topo_sub.add_parser("validate", help="check topology files (no root needed, creates nothing)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_topo_validate)
    p = topo_sub.add_parser("up", help="build a topology and leave it up")
    p.add_argument("file")
    p.set_defaults(func=_cmd_topo_up)
    p = topo_sub.add_parser("down", help="remove a topology brought up with 'topo up'")
    p.add_argument("name", help="topology name or run id")
    p.set_defaults(func=_cmd_topo_down)
    p = topo_sub.add_parser("show", help="list topologies on this machine and their owners")
    p.set_defaults(func=_cmd_topo_show)

    p = sub.add_parser("clean", help="remove leftovers of runs whose process is gone, and nothing else")
    p.set_defaults(func=_cmd_clean)

    kernel = sub.add_parser("kernel", help="build kernels for the VM runner")
    kernel_sub = kernel.add_subparsers(dest="kernel_command", required=True)
    p = kernel_sub.add_parser("build", help="configure and build a kernel (cached; default: Debian's 6.12 tree)")
    p.add_argument("--src", type=Path, help="kernel source tree (default: Debian's linux-source-6.12)")
    p.add_argument("--config", type=Path, action="append", metavar="FRAGMENT",
                   help="config fragment (repeatable; default: images/netharness.config and images/debug.config)")
    p.add_argument("-j", "--jobs", type=int, help="make jobs (default: CPUs + 1)")
    p.add_argument("--force", action="store_true", help="rebuild even if a cached kernel matches")
    p.set_defaults(func=_cmd_kernel_build)

    p = sub.add_parser("run", help="run pytest (tests/net by default) with the harness, e.g. in a VM",
                       description="Everything after the options goes to pytest.")
    p.add_argument("--kernel", help="PATH to a bzImage or build dir, or 'default'")
    p.set_defaults(func=_cmd_run, takes_extra=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and not getattr(args, "takes_extra", False):
        build_parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if getattr(args, "takes_extra", False):
            status = args.func(args, extra)
        else:
            status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return status
    except PermissionError as exc:
        print(f"netharness: {exc} (this command needs root)", file=sys.stderr)
        return EXIT_FAIL
    except BrokenPipeError:
        # `netharness ... | head -1`: the reader is gone, which is no error of
        # ours. Python's recipe: point stdout at devnull so that the flush at
        # exit does not raise again, and exit quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
