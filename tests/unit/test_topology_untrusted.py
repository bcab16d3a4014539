"""Topology files are untrusted input: each reproduction from the crash-safety issue gives a
one-line error naming file, line and what to write, and nothing that would escape the
run's namespaces passes validation. No root needed: nothing is built here."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from harness import sysctl
from harness.topology import TopologyError, load_topology, load_topology_text
from harness.topology import plan as P
from harness.topology.build import refusal_message
from harness.topology.loader import MAX_DEPTH, MAX_FILE_BYTES
from harness.topology.origin import describe, origin


def problems(text: str, name: str = "t.yaml") -> list[str]:
    try:
        load_topology_text(textwrap.dedent(text), name)
    except TopologyError as exc:
        return [str(p) for p in exc.problems]
    return []


TWO_HOSTS = """\
version: 1
name: t
nodes:
  a:
    interfaces:
      eth0: {{addresses: [{a}]}}
{extra}
  b:
    interfaces:
      eth0: {{addresses: [{b}]}}
links:
  - [a:eth0, b:eth0]
"""


# --- sysctls -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("net.//.//.//.tmp.x.victim", "is not a plain word"),
        ("kernel.domainname", "host-wide"),
        ("vm.drop_caches", "host-wide"),
        ("net.ipv4.conf.../x", "is not valid: it is empty"),
        ("net.ipv4.conf.%d.forwarding", "'%'"),
        ("net", "at least three parts"),
        ("net.ipv4.conf.eth0\x00.x", "NUL"),
    ],
)
def test_unsafe_sysctl_keys_are_refused_by_the_pure_check(key: str, why: str) -> None:
    reason = sysctl.key_problem(key)
    assert reason is not None and why in reason
    with pytest.raises(ValueError):
        sysctl.proc_path(key)


@pytest.mark.parametrize(
    ("key", "path", "interface"),
    [
        ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward", None),
        ("net.ipv4.conf.br0/10.forwarding", "/proc/sys/net/ipv4/conf/br0.10/forwarding", "br0.10"),
        ("net.ipv6.conf.all.forwarding", "/proc/sys/net/ipv6/conf/all/forwarding", None),
        ("net.ipv4.neigh.eth0.gc_stale_time", "/proc/sys/net/ipv4/neigh/eth0/gc_stale_time", "eth0"),
        ("net.mptcp.enabled", "/proc/sys/net/mptcp/enabled", None),
    ],
)
def test_safe_sysctl_keys_map_under_proc_sys_net(key: str, path: str, interface: str | None) -> None:
    """Positive control: the keys the suites use still pass."""
    assert sysctl.key_problem(key) is None
    assert str(sysctl.proc_path(key)) == path
    assert sysctl.interface_of(key) == interface


def test_path_escaping_sysctl_names_file_line_and_what_to_write() -> None:
    found = problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24",
                                      extra='    sysctls: {"net.//.//.//.tmp.x.victim": 1}'))
    assert len(found) == 1
    assert found[0].startswith("t.yaml:7:15: sysctl 'net.//.//.//.tmp.x.victim' is refused")
    assert "write instead: a network sysctl of the node's namespace" in found[0]


def test_host_wide_sysctl_is_refused_with_its_line() -> None:
    found = problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24",
                                      extra="    sysctls: {kernel.domainname: pwned}"))
    assert len(found) == 1 and found[0].startswith("t.yaml:7:15: sysctl name 'kernel.domainname'")
    assert "Host-wide settings" in found[0]


def test_defaults_sysctls_are_checked_too() -> None:
    text = "version: 1\nname: t\ndefaults:\n  sysctls: {kernel.hostname: x}\nnodes: {a: {}}\n"
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("t.yaml:4:13:")


def test_per_interface_sysctl_must_name_an_interface_of_the_node() -> None:
    extra = "    sysctls: {net.ipv4.conf.eth9.rp_filter: 0, net.ipv4.conf.eth0.rp_filter: 0}"
    found = problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24", extra=extra))
    assert len(found) == 1 and "names interface 'eth9', which node a does not have" in found[0]


# --- names -------------------------------------------------------------------------------


def test_percent_in_an_interface_name_is_refused() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:eth0, 'b:eth%d']\n"
    found = problems(text)
    assert len(found) == 1 and "'%'" in found[0] and found[0].startswith("t.yaml:5:")


def test_an_interface_name_that_poses_as_an_option_is_refused() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:eth0, 'b:-K']\n"
    found = problems(text)
    assert len(found) == 1 and "starts with '-'" in found[0]


def test_control_characters_in_an_interface_name_are_refused() -> None:
    text = 'version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:eth0, "b:e\\x01"]\n'
    assert problems(text)


# --- what the build would refuse -------------------------------------------------------------


def test_gateway_on_no_connected_subnet_is_refused() -> None:
    extra = "    routes:\n      - {to: default, via: 10.9.9.1}"
    found = problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24", extra=extra))
    assert len(found) == 1
    assert found[0].startswith("t.yaml:8:28: gateway 10.9.9.1 of route #1 in node a is not on a subnet")
    assert "10.0.0.0/24 (eth0)" in found[0]


def test_gateway_reached_through_an_earlier_device_route_passes() -> None:
    """Positive control: the kernel accepts a gateway behind a scope-link device route."""
    extra = "    routes:\n      - {to: 10.9.9.0/24, dev: eth0}\n      - {to: default, via: 10.9.9.1}"
    assert problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24", extra=extra)) == []


def test_gateway_on_a_down_interface_is_refused() -> None:
    text = TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24", extra="    routes: [{to: default, via: 10.0.0.2}]")
    text = text.replace("eth0: {addresses: [10.0.0.1/24]}", "eth0: {addresses: [10.0.0.1/24], state: down}")
    assert any("not on a subnet" in p for p in problems(text))


def test_link_local_gateway_needs_a_dev() -> None:
    extra = "    routes:\n      - {to: '::/0', via: 'fe80::1'}"
    found = problems(TWO_HOSTS.format(a="2001:db8::1/64", b="2001:db8::2/64", extra=extra))
    assert len(found) == 1 and "link-local" in found[0]
    extra = "    routes:\n      - {to: '::/0', via: 'fe80::1', dev: eth0}"
    assert problems(TWO_HOSTS.format(a="2001:db8::1/64", b="2001:db8::2/64", extra=extra)) == []


def test_same_address_on_both_ends_of_a_link_is_refused() -> None:
    found = problems(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.1/24", extra=""))
    assert len(found) == 1
    assert found[0].startswith("t.yaml:10:26: address 10.0.0.1 is on both ends of link #1")


def test_same_address_on_two_interfaces_of_a_node_is_refused() -> None:
    text = """\
    version: 1
    name: t
    nodes:
      a:
        interfaces:
          eth0: {addresses: [10.0.0.1/24]}
          eth1: {addresses: [10.0.0.1/16]}
      b: {}
    links:
      - [a:eth0, b:eth0]
      - [a:eth1, b:eth1]
    """
    found = problems(text)
    assert len(found) == 1 and "already on eth0" in found[0]


# --- reading the file --------------------------------------------------------------------------


def _one_line(exc: TopologyError) -> str:
    assert len(exc.problems) == 1
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "t.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(TopologyError) as info:
        load_topology(fifo)
    assert time.monotonic() - started < 2
    assert "not a regular file" in _one_line(info.value)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_devices_are_refused(path: str) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    assert "not a regular file" in _one_line(info.value)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(tmp_path)
    assert "a directory" in _one_line(info.value)


def test_a_large_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB that cost nothing to make
    started = time.monotonic()
    with pytest.raises(TopologyError) as info:
        load_topology(big)
    assert time.monotonic() - started < 1
    assert f"at most {MAX_FILE_BYTES} bytes" in _one_line(info.value)


@pytest.mark.parametrize("depth", [30, 250, 2000])
def test_deep_nesting_is_refused_without_a_traceback(depth: int) -> None:
    text = "version: 1\nname: t\nnodes: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "deep.yaml")
    message = _one_line(info.value)
    assert "nested" in message and str(MAX_DEPTH) in message


def test_block_nesting_is_refused_too() -> None:
    lines = ["version: 1", "name: t", "nodes:"] + ["  " * i + f"k{i}:" for i in range(1, 300)]
    with pytest.raises(TopologyError) as info:
        load_topology_text("\n".join(lines) + " 1\n", "deep.yaml")
    assert "nested" in _one_line(info.value)


def test_alias_bombs_are_refused() -> None:
    text = "version: 1\nname: t\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level, prev in zip("bcdef", "abcde"):
        text += f"{level}: &{level} [{', '.join(['*' + prev] * 10)}]\n"
    text += "nodes: {}\n"
    started = time.monotonic()
    with pytest.raises(TopologyError) as info:
        load_topology_text(text, "bomb.yaml")
    assert time.monotonic() - started < 5
    assert "values" in _one_line(info.value)


# --- build refusals name the setting ----------------------------------------------------------


def test_a_refused_route_names_the_file_line_and_kernel_reason(tmp_path: Path) -> None:
    source = tmp_path / "r.yaml"
    source.write_text(TWO_HOSTS.format(a="10.0.0.1/24", b="10.0.0.2/24",
                                       extra="    routes:\n      - {to: 10.5.0.0/16, via: 10.0.0.2}"))
    topology = load_topology(source)
    plan = P.make_plan(topology, "abcd1234")
    route_op = next(op for op in plan.ops if isinstance(op, P.AddRoute))
    assert origin(topology, route_op) == ("nodes", "a", "routes", 0)
    message = refusal_message(topology, route_op, NetlinkError(22, "Nexthop has invalid gateway"))
    assert message == (f"{source}:8:9: adding route 10.5.0.0/16 via 10.0.0.2 in node a failed: "
                       "EINVAL: Invalid argument: Nexthop has invalid gateway")


def test_every_planned_operation_has_an_origin_and_a_description() -> None:
    """Each op of every shipped topology maps to a path that exists in its document."""
    from ruamel.yaml import YAML

    root = Path(__file__).resolve().parents[2] / "topologies"
    for source in sorted(root.glob("*.yaml")):
        topology = load_topology(source)
        doc = YAML(typ="safe", pure=True).load(source.read_text())
        for op in P.make_plan(topology, "abcd1234").ops:
            node: object = doc
            for item in origin(topology, op):
                assert isinstance(node, (dict, list)), (source.name, op, item)
                node = node[item]  # type: ignore[index]
            assert "(" not in describe(op).split(" ")[0], describe(op)
