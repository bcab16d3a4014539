"""Implementations behind the plugin's markers and fixtures.

Kept out of ``plugin.py`` so that the plugin file stays glue: option
registration and hook wiring only. The same code runs in the host pytest and
in the guest's (``--kernel``), so what it decides does not depend on where it
runs.

Topology names come from test files (markers) and are untrusted as paths: a
name is either ``[a-z0-9-]{1,16}`` (the topology file contract), looked up
in a fixed list of directories, or an explicit ``*.yaml``/``*.yml`` file that
exists. A name that cannot be resolved, or a broken topology file, fails the
tests that name it, and only those: a typo in one test file must not abort
a session of hundreds.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import requires as req
from .topology.errors import TopologyError
from .topology.model import Requires, Topology
from .topology.state import differences

if TYPE_CHECKING:
    from .topology.live import LiveTopology

# The YAML loader and pyroute2 (behind LiveTopology) are imported when a test
# first needs them: in a TCG guest they cost seconds that a run of tests
# without topologies should not pay.

TOPOLOGY_DIR_ENV = "NETHARNESS_TOPOLOGY_DIR"
TOPOLOGY_NAME_RE = re.compile(r"^[a-z0-9-]{1,16}$")
TOPOLOGY_SUFFIXES = (".yaml", ".yml")
TOPOLOGY_FIXTURES = frozenset({"topo", "topology_factory"})

# Set at collection on an item whose topology cannot be used: the message its setup fails with.
TOPOLOGY_PROBLEM = pytest.StashKey[str]()


class TopologyLookupError(pytest.UsageError):
    """A topology name or file that cannot be used; one message naming it.

    A UsageError for callers outside the plugin (suites' conftests call
    ``topology_for`` at collection); the plugin itself catches it and fails
    only the tests concerned.
    """


def _unique(paths: list[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def env_topology_dirs(environ: os._Environ[str] | dict[str, str] | None = None) -> list[Path]:
    """The directories in ``NETHARNESS_TOPOLOGY_DIR`` (os.pathsep-separated; empty parts ignored)."""
    value = (os.environ if environ is None else environ).get(TOPOLOGY_DIR_ENV, "")
    return [Path(part) for part in value.split(os.pathsep) if part]


def topology_dirs(config: pytest.Config, test_path: Path | None = None) -> list[Path]:
    """Where topology names are looked up, in order.

    1. the directory of the test file that names the topology;
    2. ``--topology-dir`` (repeatable; relative to where pytest was started);
    3. ``NETHARNESS_TOPOLOGY_DIR`` (os.pathsep-separated);
    4. ``<rootdir>/topologies``, the ini file's ``topologies/`` and the
       invocation directory's ``topologies/``: pytest moves its rootdir with
       the spelling of path options (``--kernel PATH`` vs ``--kernel=PATH``),
       and the project's topologies must not go missing with it.
    """
    start = Path(config.invocation_params.dir)
    dirs: list[Path] = []
    if test_path is not None:
        dirs.append(Path(test_path).parent)
    dirs += [start / d for d in config.getoption("topology_dir") or []]
    dirs += [start / d for d in env_topology_dirs()]
    dirs.append(Path(config.rootpath) / "topologies")
    if config.inipath is not None:
        dirs.append(Path(config.inipath).parent / "topologies")
    dirs.append(start / "topologies")
    return _unique([Path(os.path.normpath(d)) for d in dirs])


def find_topology(name: object, dirs: list[Path], bases: list[Path]) -> Path:
    """The file for topology ``name``, or TopologyLookupError with one line saying why.

    ``name`` is a topology name looked up in ``dirs``, or an explicit
    ``.yaml``/``.yml`` path (absolute, or relative to one of ``bases``) that
    must be an existing regular file. Anything else (``../../etc/x``,
    ``a/b``, a non-string) is refused before it reaches a path.
    """
    if not isinstance(name, str):
        raise TopologyLookupError(f"topology name must be a string, not {name!r}")
    if name.endswith(TOPOLOGY_SUFFIXES) and "\0" not in name:
        for base in bases:
            path = base / name
            if path.is_file():
                return path
        where = ", ".join(str(b) for b in bases)
        raise TopologyLookupError(f"topology file {name!r} not found (relative to {where})")
    if not TOPOLOGY_NAME_RE.match(name):
        raise TopologyLookupError(
            f"topology {name!r} is not a topology name ([a-z0-9-], at most 16 characters) "
            f"nor a path to a .yaml/.yml file"
        )
    for directory in dirs:
        for suffix in TOPOLOGY_SUFFIXES:
            path = directory / f"{name}{suffix}"
            if path.is_file():
                return path
    searched = ", ".join(str(d) for d in dirs)
    raise TopologyLookupError(
        f"topology {name!r} not found (searched {searched}); pass --topology-dir or set {TOPOLOGY_DIR_ENV}"
    )


def resolve_topology_path(config: pytest.Config, name: str, test_path: Path | None = None) -> Path:
    """A topology name (``mptcp-2path``) or a path to a YAML file, for a test in ``test_path``."""
    bases = [Path(config.invocation_params.dir), Path(config.rootpath)]
    if test_path is not None:
        bases.insert(0, Path(test_path).parent)
    return find_topology(name, topology_dirs(config, test_path), _unique(bases))


@lru_cache(maxsize=None)
def _load(path: Path) -> Topology:
    from .topology.loader import load_topology

    return load_topology(path)


def topology_for(config: pytest.Config, name: str, test_path: Path | None = None) -> Topology:
    """The loaded topology ``name``; TopologyLookupError when it is missing or broken."""
    path = resolve_topology_path(config, name, test_path)
    try:
        return _load(path.resolve())
    except TopologyError as exc:
        raise TopologyLookupError(str(exc)) from None


@lru_cache(maxsize=1)
def kernel_config(explicit: str | None) -> req.KernelConfig | None:
    """The kernel config requirements are checked against; a named file that is no .config
    is a usage error naming it (one line, no traceback)."""
    try:
        return req.load_kernel_config(explicit)
    except req.KernelConfigError as exc:
        option = "--kconfig-file" if explicit else req.KCONFIG_ENV
        raise pytest.UsageError(f"{option}: {exc}") from None


def uses_topologies(item: pytest.Item) -> bool:
    """Whether ``item`` builds topologies (marker or fixture)."""
    if item.get_closest_marker("topology") is not None:
        return True
    return bool(TOPOLOGY_FIXTURES & set(getattr(item, "fixturenames", ())))


def _marked_topology_name(item: pytest.Item) -> object | None:
    marker = item.get_closest_marker("topology")
    if marker is None or not marker.args:
        return None
    return marker.args[0]


TOPOLOGY_SCOPES = ("function", "module")


def marked_topology_scope(item: pytest.Item) -> str:
    """``scope=`` of the item's topology marker: "function" (default) or "module"."""
    marker = item.get_closest_marker("topology")
    scope = "function" if marker is None else marker.kwargs.get("scope", "function")
    if scope not in TOPOLOGY_SCOPES:
        pytest.fail(f"{item.nodeid}: @pytest.mark.topology(scope={scope!r}): write one of {TOPOLOGY_SCOPES}",
                    pytrace=False)
    return scope


def item_requirements(item: pytest.Item) -> Requires:
    """Everything an item needs: its requires markers plus its topology's requires.

    Raises TopologyLookupError when its topology cannot be used.
    """
    parts = [req.from_marker_kwargs(**m.kwargs) for m in item.iter_markers("requires")]
    name = _marked_topology_name(item)
    if name is not None:
        parts.append(topology_for(item.config, name, item.path).requires)  # type: ignore[arg-type]
    return req.merge(*parts)


def mark_if_unmet(item: pytest.Item) -> None:
    """Mark ``item`` skipped, naming every missing item, when its requirements
    are unmet. Done at collection so that the skip is reported at the test.

    A topology that cannot be used is stashed on the item (its setup fails
    with the message) rather than raised: it concerns this item only.
    """
    try:
        needs = item_requirements(item)
    except TopologyLookupError as exc:
        item.stash[TOPOLOGY_PROBLEM] = str(exc)
        return
    if not (needs.kconfig or needs.tools or needs.sysfs):
        return
    config = kernel_config(item.config.getoption("kconfig_file"))
    reasons = req.missing(needs, config)
    if reasons:
        item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def root_skip_reason(euid: int) -> str | None:
    """Why topology tests cannot run for this user, or None for root (pure)."""
    if euid == 0:
        return None
    return f"building topologies needs root (running as uid {euid})"


def skip_unless_root() -> None:
    reason = root_skip_reason(os.geteuid())
    if reason is not None:
        pytest.skip(reason)


def is_permission_error(exc: BaseException | None) -> bool:
    """EPERM/EACCES from the kernel or the file system (pure)."""
    return isinstance(exc, PermissionError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EPERM, errno.EACCES)
    )


def fail_on_topology_problem(item: pytest.Item) -> None:
    """At setup: fail ``item`` (one message, no traceback) if its topology could not be used."""
    problem = item.stash.get(TOPOLOGY_PROBLEM, None)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def marked_topology(request: pytest.FixtureRequest, shared: dict[str, LiveTopology]) -> Iterator[LiveTopology]:
    """The ``topo`` fixture's body: the marked topology for one test.

    scope="function": built for this test and removed after it.
    scope="module": built once per module (kept in ``shared``) and checked
    after each test; a test that left it changed fails, naming the change,
    and the next test gets a fresh build.
    """
    scope = marked_topology_scope(request.node)
    if scope == "function":
        live = build_marked_topology(request)
        try:
            yield live
        finally:
            live.down()
        return
    key = str(_marked_topology_name(request.node))
    live = shared.get(key)
    if live is None:
        live = build_marked_topology(request)
        shared[key] = live
    before = live.state()
    yield live
    changed = differences(before, live.state())
    if changed:
        del shared[key]
        live.down()
        pytest.fail(
            f"the test left the shared topology {key!r} (scope='module') changed; undo what the test "
            "changes, or use the default scope:\n  " + "\n  ".join(changed),
            pytrace=False,
        )


def build_marked_topology(request: pytest.FixtureRequest) -> LiveTopology:
    from .topology.live import LiveTopology

    name = _marked_topology_name(request.node)
    if name is None:
        pytest.fail(f"{request.node.nodeid}: the 'topo' fixture needs @pytest.mark.topology(\"NAME\")",
                    pytrace=False)
    try:
        topology = topology_for(request.config, name, request.node.path)  # type: ignore[arg-type]
    except TopologyLookupError as exc:
        pytest.fail(str(exc), pytrace=False)
    skip_unless_root()
    return LiveTopology.up(topology)
