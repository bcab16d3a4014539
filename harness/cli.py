"""The ``netharness`` command line.

Subcommands map one to one onto library calls; this module only parses
arguments, prints, and turns known errors into exit codes (no tracebacks for
user errors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .topology import TopologyError, load_topology

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
    return status


def _cmd_topo_up(args: argparse.Namespace) -> int:
    from .topology.build import BuildError, build

    try:
        topo = load_topology(args.file)
    except TopologyError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    try:
        journal, applier = build(topo, detached=True)
    except BuildError as exc:
        print(f"{args.file}: build failed, nothing left behind: {exc}", file=sys.stderr)
        return EXIT_FAIL
    applier.close()
    print(f"{topo.name} up, run {journal.run_id}")
    for node, netns in journal.netns.items():
        print(f"  {node}: ip netns exec {netns} ...")
    print(f"remove with: netharness topo down {journal.run_id}")
    return EXIT_OK


def _cmd_topo_down(args: argparse.Namespace) -> int:
    from .topology.build import teardown
    from .topology.clean import find_detached

    matches = find_detached(args.name)
    if not matches:
        print(f"no topology brought up with 'topo up' is named {args.name!r} (see 'netharness topo show')",
              file=sys.stderr)
        return EXIT_FAIL
    if len(matches) > 1:
        ids = ", ".join(j.run_id for j in matches)
        print(f"{args.name!r} is up {len(matches)} times; name one run id: {ids}", file=sys.stderr)
        return EXIT_FAIL
    removed = teardown(matches[0])
    print(f"{matches[0].topology} (run {matches[0].run_id}) down: removed {len(removed)} objects")
    return EXIT_OK


def _cmd_topo_show(args: argparse.Namespace) -> int:
    from .topology.clean import list_runs

    runs = list_runs()
    if not runs:
        print("no topologies")
        return EXIT_OK
    for run in runs:
        j = run.journal
        print(f"{j.run_id}  {j.topology:16}  {run.state:8}  pid {j.pid}  {j.source or ''}")
        for node, netns in j.netns.items():
            print(f"    {node}: netns {netns}")
        for key, dev_id in j.netdevsim.items():
            print(f"    {key}: netdevsim{dev_id}")
    return EXIT_OK


def _cmd_clean(args: argparse.Namespace) -> int:
    from .topology.clean import clean_dead_runs, list_runs

    from .kernel.build import cache_dir
    from .vm.reaper import reap_orphans

    cleaned = clean_dead_runs()
    for run_id, removed in cleaned:
        print(f"run {run_id}: removed {', '.join(removed) if removed else 'nothing (already gone)'}")
    kept = [r for r in list_runs() if r.state != "dead"]
    for run in kept:
        print(f"kept {run.journal.run_id} ({run.journal.topology}): {run.state}")
    reaped = reap_orphans(cache_dir() / "vm-runs")
    for vm_dir in reaped:
        print(f"killed the VM of {vm_dir}: its pytest process is gone")
    if not cleaned and not reaped:
        print("nothing to clean")
    return EXIT_OK


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


def _cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    """`netharness run [--kernel K] PYTEST-ARGS`: pytest with the plugin's options."""
    import pytest

    argv = list(extra)
    if args.kernel:
        argv = ["--kernel", args.kernel, *argv]
    return int(pytest.main(argv))


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
            return args.func(args, extra or ["tests/net"])
        return args.func(args)
    except PermissionError as exc:
        print(f"netharness: {exc} (this command needs root)", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
