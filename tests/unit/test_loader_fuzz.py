"""A fuzzer for the topology loader: topology files are untrusted input run as root.

Every file in ``topologies/`` is mutated at random (hypothesis): values and
keys replaced by hostile strings, wrong types, deep nesting, deletions, and
raw text edits. Two properties must hold for every mutant:

1. the loader returns a ``Topology`` or raises ``TopologyError``: never any
   other exception (a traceback is a bug a user would hit);
2. a mutant that passes validation reaches no path, sysfs write, command
   line or host-wide setting unchecked: every sysctl is a safe ``net.`` key,
   every name that becomes part of a kernel object name or path is a name,
   and nothing that reaches an argv can pose as an option.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from harness import sysctl
from harness.topology import Topology, TopologyError, load_topology_text
from harness.topology.plan import make_plan
from harness.names import ifname_problem

TOPOLOGIES = sorted((Path(__file__).resolve().parents[2] / "topologies").glob("*.yaml"))

# Values an attacker or a careless user would try where names and keys go.
HOSTILE = [
    "", ".", "..", "../..", "../../etc/passwd", "/etc/passwd", "a/b", "net.//.//.//.tmp.x.victim",
    "kernel.domainname", "vm.drop_caches", "fs.file-max", "net..ipv4", "net.ipv4.conf.../x",
    "net.ipv4.conf.eth0.forwarding", "net.ipv4.conf.%d.x", "eth%d", "eth0\x00x", "eth0\nx", "-rf", "--help",
    "-K", "a b", "x:y", "\u202e", "ééééééééé", "a" * 40, "0", "-1", "4294967296", "NaN", "nh-deadbeef-c1",
    "/sys/../etc", "/sys/bus/../../etc", "c1:eth0", ":", "@", "${HOME}", "$(reboot)", "`id`",
]
SCALARS = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(HOSTILE) | st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``doc`` (mapping keys and list indexes)."""
    found = [prefix]
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _parse(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _dump(doc: Any) -> str:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(doc, out)
    return out.getvalue()


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """``doc`` with the thing at ``path`` replaced, renamed, deleted or deeply nested."""
    if not path:
        return value
    parent = doc
    for item in path[:-1]:
        parent = parent[item]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "rename" and isinstance(parent, dict):
        parent[value if isinstance(value, (str, int, bool)) or value is None else str(value)] = parent.pop(last)
    elif action == "delete":
        del parent[last]
    elif action == "nest":
        nested: Any = parent[last]
        for _ in range(40):
            nested = [nested]
        parent[last] = nested
    return doc


def check_safe(topology: Topology) -> None:
    """What a topology that passed validation may carry into the kernel and the command line."""
    assert re.fullmatch(r"[a-z0-9-]{1,16}", topology.name)
    plan = make_plan(topology, "fuzz0001")
    for node in topology.nodes:
        assert re.fullmatch(r"[a-z0-9-]{1,16}", node.name), node.name
        assert plan.netns[node.name] == f"nh-fuzz0001-{node.name}"
        for key, _value in (*topology.default_sysctls, *node.sysctls):
            assert sysctl.key_problem(key) is None, key
            assert str(sysctl.proc_path(key)).startswith("/proc/sys/net/"), key
            assert ".." not in sysctl.relative_path(key).parts, key
        names = [cfg.name for cfg in node.interfaces]
        names += [p for dev in node.netdevsim for p in dev.port_names]
        names += [b.name for b in node.bridges] + [v.name for v in node.vlans]
        for name in names:
            assert ifname_problem(name) is None, name
        for dev in node.netdevsim:
            for param in dev.params:
                assert not param.value.startswith("-") and re.fullmatch(r"[a-z0-9_]{1,64}", param.name)
        for cfg in node.interfaces:
            for group in ("features", "rings", "channels", "coalesce", "pause"):
                for key, value in getattr(cfg.ethtool, group):
                    assert not key.startswith("-") and not value.startswith("-"), (key, value)
    for tool in topology.requires.tools:
        assert "/" not in tool and not tool.startswith("-"), tool
    for path in topology.requires.sysfs:
        assert path.startswith("/sys/") and ".." not in Path(path).parts and "\0" not in path, path


def load_or_refuse(text: str) -> Topology | None:
    """Property 1: a topology or a TopologyError, nothing else."""
    try:
        return load_topology_text(text, "fuzz.yaml")
    except TopologyError as exc:
        assert exc.problems, "a TopologyError names at least one problem"
        for problem in exc.problems:
            assert problem.file == "fuzz.yaml" and problem.message
        return None


@pytest.mark.parametrize("source", TOPOLOGIES, ids=lambda p: p.stem)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_structural_mutations_never_crash_nor_pass_unsafe(source: Path, data: st.DataObject) -> None:
    doc = _parse(source.read_text())
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    action = data.draw(st.sampled_from(["replace", "replace", "rename", "delete", "nest"]), label="action")
    value = data.draw(VALUES, label="value")
    try:
        text = _dump(_mutate(doc, path, action, value))
    except Exception:  # noqa: BLE001 - YAML cannot represent the mutant (e.g. a float key): not our input
        return
    topology = load_or_refuse(text)
    if topology is not None:
        check_safe(topology)


@pytest.mark.parametrize("source", TOPOLOGIES[::3], ids=lambda p: p.stem)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_text_mutations_never_crash_nor_pass_unsafe(source: Path, data: st.DataObject) -> None:
    text = source.read_text()
    start = data.draw(st.integers(min_value=0, max_value=len(text)), label="start")
    length = data.draw(st.integers(min_value=0, max_value=16), label="length")
    insert = data.draw(st.sampled_from(HOSTILE) | st.text(max_size=16), label="insert")
    topology = load_or_refuse(text[:start] + insert + text[start + length:])
    if topology is not None:
        check_safe(topology)


def test_the_fuzzer_sees_an_unsafe_topology_negative_control() -> None:
    """check_safe must fail on what validation is meant to stop: proves the property can fail."""
    from harness.topology.model import Node

    safe = load_topology_text(TOPOLOGIES[0].read_text(), "fuzz.yaml")
    check_safe(safe)
    bad = Topology(name=safe.name, nodes=(Node(name="a", sysctls=(("kernel.domainname", "x"),)),))
    with pytest.raises(AssertionError):
        check_safe(bad)
    escaping = Topology(name=safe.name, nodes=(Node(name="a", sysctls=(("net.//.//.tmp.victim", "1"),)),))
    with pytest.raises((AssertionError, ValueError)):
        check_safe(escaping)


@pytest.mark.parametrize("hostile", ["kernel.domainname", "net.//.//.//.tmp.x.victim", "net.ipv4.conf.../x",
                                     "vm.drop_caches", "net.ipv4.conf.%d.forwarding"])
def test_every_path_escaping_or_host_wide_sysctl_is_refused(hostile: str) -> None:
    text = f'version: 1\nname: t\nnodes:\n  a:\n    sysctls: {{"{hostile}": 1}}\n'
    assert load_or_refuse(text) is None
