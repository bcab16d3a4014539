"""The JSON Schema of topology files, and how its errors reach the user.

Each bad file checks the exact line and column of the problem and that the
"write instead" hint is there: a message that points at the wrong line, or
says nothing about the fix, is a bug.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from harness.topology import Problem, TopologyError, load_topology, load_topology_text
from harness.topology.schema_check import topology_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "harness" / "schema" / "topology.schema.json"


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(TopologyError) as info:
        load_topology_text(textwrap.dedent(text), "t.yaml")
    return info.value.problems


def only_problem(text: str) -> Problem:
    found = problems_of(text)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def column_of(text: str, line: int, token: str) -> int:
    """1-based column of the first ``token`` on 1-based ``line`` of ``text``."""
    return textwrap.dedent(text).splitlines()[line - 1].index(token) + 1


def _subschemas(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside ``schema``, with a JSON-pointer-ish name."""
    if isinstance(schema, dict):
        yield where, schema
        for key, value in schema.items():
            if key in ("examples", "const", "enum"):
                continue
            yield from _subschemas(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _subschemas(value, f"{where}/{index}")


# --- the schema file itself --------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_loaded_from_package_is_the_file() -> None:
    assert topology_schema() == json.loads(SCHEMA_PATH.read_text())


def test_every_property_has_a_description() -> None:
    missing = [
        f"{where}/properties/{name}"
        for where, sub in _subschemas(topology_schema())
        for name, prop in sub.get("properties", {}).items()
        if not isinstance(prop, dict) or not prop.get("description")
    ]
    assert missing == []


def test_every_object_with_properties_forbids_unknown_keys() -> None:
    lax = [
        where
        for where, sub in _subschemas(topology_schema())
        if "properties" in sub and sub.get("additionalProperties") is not False
    ]
    assert lax == []


def test_every_map_of_names_constrains_its_keys() -> None:
    """Maps keyed by user names (nodes, interfaces, ...) need propertyNames, or any key passes."""
    open_maps = [
        where
        for where, sub in _subschemas(topology_schema())
        if isinstance(sub.get("additionalProperties"), dict) and "propertyNames" not in sub
    ]
    assert open_maps == []


def test_examples_in_the_schema_are_valid_where_they_stand() -> None:
    """Hints quote the examples, so an invalid example would teach a mistake."""
    schema = topology_schema()
    bad = []
    for where, sub in _subschemas(schema):
        if "examples" not in sub or where.startswith("#/$defs") and "$ref" in sub:
            continue
        check = dict(sub, **{"$defs": schema["$defs"]})
        validator = Draft202012Validator(check)
        bad += [f"{where}: {ex!r}" for ex in sub["examples"] if not validator.is_valid(ex)]
    assert bad == []


def test_topologies_dir_has_relative_symlink_to_schema() -> None:
    link = REPO / "topologies" / "schema.json"
    assert link.is_symlink()
    assert os.readlink(link) == "../harness/schema/topology.schema.json"
    assert link.resolve() == SCHEMA_PATH.resolve()


# --- schema errors, as the user sees them ---------------------------------------------------


def test_unknown_key_names_place_and_allowed_keys() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          c1:
            interfaces:
              eth0: {adresses: [10.0.1.1/24]}
        links:
          - [c1:eth0, c2:eth0]
        """
    )
    assert (problem.line, problem.column) == (6, 14)
    assert problem.message == "unknown key 'adresses' in node c1 interface eth0"
    assert problem.hint == "one of addresses, mtu, mac, state, ethtool"
    assert str(problem) == (
        "t.yaml:6:14: unknown key 'adresses' in node c1 interface eth0; "
        "write instead: one of addresses, mtu, mac, state, ethtool"
    )


def test_unknown_key_puts_closest_allowed_key_first() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          r1:
            routes:
              - {to: default, via: 10.0.0.1, metrc: 5}
        """
    )
    assert problem.line == 6
    assert problem.hint.startswith("one of metric, ")


def test_unknown_top_level_key() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes: {a: {}}
        link: []
        """
    )
    assert (problem.line, problem.column) == (4, 1)
    assert problem.message == "unknown key 'link' at the top level"
    assert problem.hint.startswith("one of links, ")


def test_version_must_be_1() -> None:
    problem = only_problem('version: "1"\nname: t\nnodes: {a: {}}\n')
    assert (problem.line, problem.column) == (1, 10)
    assert problem.message == "version must be 1, not '1'"
    assert problem.hint == "version: 1"


def test_topology_name_pattern_suggests_a_valid_name() -> None:
    problem = only_problem("version: 1\nname: Mptcp_2path\nnodes: {a: {}}\n")
    assert (problem.line, problem.column) == (2, 7)
    assert "at most 16 characters" in problem.message
    assert problem.hint == "name: mptcp-2path"


def test_topology_name_longer_than_16() -> None:
    problem = only_problem("version: 1\nname: a-very-long-name-indeed\nnodes: {a: {}}\n")
    assert problem.line == 2
    assert problem.hint == "name: a-very-long-name"


def test_node_name_invalid_points_at_key() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          ok: {}
          Bad_Node: {}
        """
    )
    assert (problem.line, problem.column) == (5, 3)
    assert problem.message.startswith("node name 'Bad_Node' is not valid")
    assert problem.hint == "bad-node"


def test_missing_required_keys_are_all_reported() -> None:
    found = problems_of("description: nothing else\n")
    assert [p.message for p in found] == [
        "the file is missing the required key 'name'",
        "the file is missing the required key 'nodes'",
        "the file is missing the required key 'version'",
    ]
    assert {(p.line, p.column) for p in found} == {(1, 1)}
    assert [p.hint for p in found] == ["name: mptcp-2path", "nodes: {h1: {}, h2: {}}", "version: 1"]


def test_nodes_must_not_be_empty() -> None:
    problem = only_problem("version: 1\nname: t\nnodes: {}\n")
    assert problem.line == 3
    assert problem.message == "nodes must have at least 1 entry"
    assert problem.hint == "nodes: {h1: {}, h2: {}}"


def test_top_level_must_be_a_mapping() -> None:
    problem = only_problem("- version: 1\n")
    assert (problem.line, problem.column) == (1, 1)
    assert problem.message == "the file must be a mapping, not a list"
    assert problem.hint.startswith("{version: 1, ")


@pytest.mark.parametrize(
    ("settings", "token", "message", "hint"),
    [
        ("{mtu: 40}", "40", "mtu in node c1 interface eth0 must be from 68 to 65535, not 40", "mtu: 1500"),
        ("{mtu: 65536}", "65536", "mtu in node c1 interface eth0 must be from 68 to 65535, not 65536", "mtu: 1500"),
        ("{mtu: 1500x}", "1500x", "mtu in node c1 interface eth0 must be a whole number, not '1500x'", "mtu: 1500"),
        ("{state: upp}", "upp", "state in node c1 interface eth0 must be up or down, not 'upp'", "state: up"),
        ("{state: sideways}", "sideways", "state in node c1 interface eth0 must be up or down, not 'sideways'",
         "state: up or down"),
        ("{mac: '00:11'}", "'00:11'", "mac '00:11' in node c1 interface eth0 is not valid: MAC address, six pairs of "
         "hex digits separated by ':'", "mac: 02:00:00:00:00:01"),
        ("{addresses: 10.0.0.1/24}", "10.0.0.1/24",
         "addresses in node c1 interface eth0 must be a list, not '10.0.0.1/24'",
         "addresses: [10.0.0.1/24, 2001:db8::1/64]"),
        ("{addresses: [10]}", "10", "address #1 in node c1 interface eth0 must be a string, not 10",
         '"10" (quoted, so that YAML reads a string)'),
    ],
)
def test_interface_settings(settings: str, token: str, message: str, hint: str) -> None:
    text = f"version: 1\nname: t\nnodes:\n  c1:\n    interfaces:\n      eth0: {settings}\n"
    problem = only_problem(text)
    assert (problem.line, problem.column) == (6, column_of(text, 6, token))
    assert problem.message == message
    assert problem.hint == hint


def test_empty_interface_entry_points_at_its_key() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          c1:
            interfaces:
              eth0:
              eth1: {}
        """
    )
    assert (problem.line, problem.column) == (6, 7)
    assert problem.message == "interface eth0 in node c1 must be a mapping, not nothing (null)"
    assert problem.hint == "eth0: {addresses: [10.0.0.1/24]}"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("eth0123456789abc", "1 to 15 bytes"),
        ("a/b", "without '/'"),
        ("..", "not '.' or '..'"),
        ('"a b"', "whitespace"),
    ],
)
def test_interface_names_must_be_linux_names(name: str, reason: str) -> None:
    problem = only_problem(
        f"version: 1\nname: t\nnodes:\n  c1:\n    netdevsim:\n      nsim0: {{ports: 1, port_names: [{name}]}}\n"
    )
    assert (problem.line, problem.column) == (6, 38)
    assert problem.message.startswith("port name #1 ")
    assert reason in problem.message
    assert problem.hint


def test_integer_interface_key_asks_for_quotes() -> None:
    problem = only_problem("version: 1\nname: t\nnodes:\n  c1:\n    interfaces:\n      10: {}\n")
    assert (problem.line, problem.column) == (6, 7)
    assert problem.message == "interface name 10 in node c1 must be a string"
    assert problem.hint == '"10" (quoted, so that YAML reads a string)'


def test_route_requires_to() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          c1:
            routes:
              - {to: default, via: 10.0.0.1}
              - {via: 10.0.0.1}
        """
    )
    assert (problem.line, problem.column) == (7, 9)
    assert problem.message == "route #2 in node c1 is missing the required key 'to'"
    assert problem.hint == "to: default"


@pytest.mark.parametrize(
    ("mptcp", "token", "message", "hint"),
    [
        ("{limits: {subflows: 9}}", "9", "subflows in node c1 mptcp limits must be from 0 to 8, not 9", "subflows: 2"),
        ("{limits: {add_addr_accepted: -1}}", "-1",
         "add_addr_accepted in node c1 mptcp limits must be from 0 to 8, not -1", "add_addr_accepted: 2"),
        ("{endpoints: [{address: 10.0.0.1, flags: [subflow, subflow]}]}", "subflow]",
         "flag #2 in node c1 mptcp endpoint #1 repeats 'subflow'", "list 'subflow' once"),
        ("{endpoints: [{address: 10.0.0.1, flags: [subflw]}]}", "subflw",
         "flag #1 in node c1 mptcp endpoint #1 must be signal, subflow, backup or fullmesh, not 'subflw'",
         "subflow"),
        ("{endpoints: [{address: 10.0.0.1, id: 256}]}", "256",
         "id in node c1 mptcp endpoint #1 must be from 1 to 255, not 256", "id: 1"),
        ("{endpoints: [{interface: eth0}]}", "{interface",
         "endpoint #1 in node c1 mptcp is missing the required key 'address'", "address: 10.0.0.1"),
    ],
)
def test_mptcp_schema(mptcp: str, token: str, message: str, hint: str) -> None:
    text = f"version: 1\nname: t\nnodes:\n  c1:\n    mptcp: {mptcp}\n"
    problem = only_problem(text)
    assert (problem.line, problem.column) == (5, column_of(text, 5, token))
    assert problem.message == message
    assert problem.hint == hint


def test_netdevsim_ports_range_and_required() -> None:
    found = problems_of(
        """\
        version: 1
        name: t
        nodes:
          sw:
            netdevsim:
              nsim0: {ports: 65}
              nsim1: {port_names: [a]}
        """
    )
    assert [(p.line, p.column, p.message, p.hint) for p in found] == [
        (6, 22, "ports in node sw netdevsim device nsim0 must be from 1 to 64, not 65", "ports: 4"),
        (7, 7, "netdevsim device nsim1 in node sw is missing the required key 'ports'", "ports: 4"),
    ]


@pytest.mark.parametrize(
    ("vlans", "token", "message", "hint"),
    [
        ("[5000]", "5000", "vlan #1 in node sw bridge br0 port p1 must be from 1 to 4094, not 5000", "10"),
        ("[0]", "0", "vlan #1 in node sw bridge br0 port p1 must be from 1 to 4094, not 0", "10"),
        ("['10,20']", "'10,20'", "vlan #1 '10,20' in node sw bridge br0 port p1 is not valid: A range of VLAN ids "
         "written first-last, e.g. 20-29", "20-29"),
        ("[{vid: 10, pvid: 1}]", "1}", "pvid in node sw bridge br0 port p1 vlan #1 must be true or false, not 1",
         "pvid: true"),
        ("[{vid: 10, tagged: true}]", "tagged", "unknown key 'tagged' in node sw bridge br0 port p1 vlan #1",
         "one of untagged, vid, pvid"),
        ("[{pvid: true}]", "{pvid", "vlan #1 in node sw bridge br0 port p1 is missing the required key 'vid'",
         "vid: 10"),
        ("[{vid: 4095}]", "4095", "vid in node sw bridge br0 port p1 vlan #1 must be from 1 to 4094, not 4095",
         "vid: 10"),
        ("[true]", "true", "vlan #1 in node sw bridge br0 port p1 is not valid: A VLAN on a bridge port: an id, a "
         'range "a-b", or {vid: ..., pvid: true, untagged: true}', "10"),
    ],
)
def test_bridge_port_vlans_schema(vlans: str, token: str, message: str, hint: str) -> None:
    text = (
        "version: 1\nname: t\nnodes:\n  sw:\n    bridges:\n      br0:\n        vlan_filtering: true\n"
        f"        ports:\n          p1: {{vlans: {vlans}}}\n"
    )
    problem = only_problem(text)
    assert (problem.line, problem.column) == (9, column_of(text, 9, token))
    assert problem.message == message
    assert problem.hint == hint


def test_vlan_interface_schema() -> None:
    found = problems_of(
        """\
        version: 1
        name: t
        nodes:
          h1:
            vlans:
              eth0.10: {id: 4095, adresses: []}
        """
    )
    assert [(p.line, p.column, p.message, p.hint) for p in found] == [
        (6, 7, "vlan eth0.10 in node h1 is missing the required key 'link'", "link: eth0"),
        (6, 21, "id in node h1 vlan eth0.10 must be from 1 to 4094, not 4095", "id: 10"),
        (6, 27, "unknown key 'adresses' in node h1 vlan eth0.10",
         "one of addresses, link, id, mtu, mac, state"),
    ]


@pytest.mark.parametrize(
    ("link", "column", "message", "hint"),
    [
        ("[a:eth0, b:eth0, c:eth0]", 5, "link #1 must have exactly 2 endpoints, not 3", "[c1:eth0, s1:eth0]"),
        ("[a:eth0]", 5, "link #1 must have exactly 2 endpoints, not 1", "[c1:eth0, s1:eth0]"),
        ("[a eth0, b:eth0]", 6, "endpoint #1 'a eth0' in link #1 is not valid: One end of a link, written "
         "node:interface", "a:eth0"),
        ("{endpoints: [a:eth0, b:eth0], kind: vxlan}", 41,
         "kind in link #1 must be veth or netdevsim, not 'vxlan'", "kind: veth or netdevsim"),
        ("{endpoint: [a:eth0, b:eth0]}", 5, "link #1 is missing the required key 'endpoints'",
         "endpoints: [c1:eth0, s1:eth0]"),
        ("a:eth0", 5, "link #1 is not valid: A link: a list of two node:interface endpoints, or a mapping with "
         "endpoints and kind", "[c1:eth0, s1:eth0]"),
    ],
)
def test_link_schema(link: str, column: int, message: str, hint: str) -> None:
    found = problems_of(f"version: 1\nname: t\nnodes: {{a: {{}}, b: {{}}}}\nlinks:\n  - {link}\n")
    assert (found[0].line, found[0].column) == (5, column)
    assert found[0].message == message
    assert found[0].hint == hint


def test_link_object_with_unknown_key_reports_both_problems() -> None:
    found = problems_of("version: 1\nname: t\nnodes: {a: {}}\nlinks:\n  - {endpoint: [a:x, a:y]}\n")
    assert [(p.line, p.column, p.message) for p in found] == [
        (5, 5, "link #1 is missing the required key 'endpoints'"),
        (5, 6, "unknown key 'endpoint' in link #1"),
    ]
    assert found[1].hint == "one of endpoints, kind"


SYSCTL_RULE = (
    "A network sysctl of the node's own namespace, in dotted form under net., e.g. net.ipv4.ip_forward; an "
    "interface name inside it writes its '.' as '/' (net.ipv4.conf.br0/10.forwarding). Host-wide settings "
    "(kernel., vm., fs., ...) are refused"
)


@pytest.mark.parametrize(
    ("sysctls", "token", "message", "hint"),
    [
        ("{net.ipv4.ip_forward: 1.5}", "1.5", "sysctl net.ipv4.ip_forward in node c1 must be a string, a whole "
         "number or true or false, not 1.5", '"1.5" (quoted, so that YAML reads a string)'),
        ("{NET: 1}", "NET", "sysctl name 'NET' in node c1 is not valid: " + SYSCTL_RULE, "net.ipv4.ip_forward"),
        ("{Net.IPv4.ip_forward: 1}", "Net", "sysctl name 'Net.IPv4.ip_forward' in node c1 is not valid: "
         + SYSCTL_RULE, "net.ipv4.ip_forward"),
        ("{net.ipv4.ip_forward: [1]}", "net", "sysctl net.ipv4.ip_forward in node c1 must be a string, a whole "
         "number or true or false, not a list", "net.ipv4.ip_forward: 1"),
    ],
)
def test_sysctl_schema(sysctls: str, token: str, message: str, hint: str) -> None:
    text = f"version: 1\nname: t\nnodes:\n  c1:\n    sysctls: {sysctls}\n"
    problem = only_problem(text)
    assert (problem.line, problem.column) == (5, column_of(text, 5, token))
    assert problem.message == message
    assert problem.hint == hint


def test_requires_schema() -> None:
    found = problems_of(
        """\
        version: 1
        name: t
        requires:
          kconfig: [mptcp, MPTCP, MPTCP]
          sysfs: [bus/netdevsim]
          tool: [ip]
        nodes: {a: {}}
        """
    )
    assert [(p.line, p.column, p.message, p.hint) for p in found] == [
        (4, 13, "kconfig option #1 'mptcp' in requires is not valid: A kernel config option name in capitals, "
         "with or without CONFIG_, e.g. MPTCP", "MPTCP"),
        (4, 27, "kconfig option #3 in requires repeats 'MPTCP'", "list 'MPTCP' once"),
        (5, 11, "sysfs path #1 'bus/netdevsim' in requires is not valid: An absolute path under /sys/ "
         "without '.' or '..' segments, e.g. /sys/bus/netdevsim", "/sys/bus/netdevsim"),
        (6, 3, "unknown key 'tool' in requires", "one of tools, kconfig, sysfs"),
    ]


def test_all_schema_problems_are_collected_in_file_order() -> None:
    found = problems_of(
        """\
        version: 2
        name: t
        nodes:
          c1:
            interfaces:
              eth0: {mtu: 1}
            routs: []
        extra: 1
        """
    )
    assert [p.line for p in found] == [1, 6, 7, 8]
    assert all(p.hint for p in found)


# --- not YAML at all ------------------------------------------------------------------------


def test_yaml_syntax_error_gives_file_and_line() -> None:
    with pytest.raises(TopologyError) as info:
        load_topology_text("version: 1\nname: t\nnodes: [a\nlinks: []\n", "broken.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == ("broken.yaml", 4, 6)
    assert problem.message.startswith("not valid YAML: ")
    assert problem.hint
    assert str(info.value).startswith("broken.yaml:4:6: not valid YAML")


def test_tab_indentation_hint() -> None:
    problem = only_problem("version: 1\nnodes:\n\ta: {}\n")
    assert problem.line == 3
    assert problem.hint == "indent with spaces, not tabs"


def test_duplicate_key_is_reported_at_second_occurrence() -> None:
    problem = only_problem(
        """\
        version: 1
        name: t
        nodes:
          c1:
            interfaces:
              eth0: {mtu: 1500}
              eth0: {mtu: 9000}
        """
    )
    assert (problem.line, problem.column) == (7, 7)
    assert problem.message == "duplicate key 'eth0' (YAML would silently keep only one)"
    assert problem.hint == "one 'eth0' key in this mapping"


def test_duplicate_top_level_key() -> None:
    problem = only_problem("version: 1\nname: a\nname: b\nnodes: {x: {}}\n")
    assert (problem.line, problem.column) == (3, 1)
    assert "duplicate key 'name'" in problem.message


def test_control_character_is_reported_with_position() -> None:
    problem = only_problem("version: 1\nname: a\x07b\nnodes: {x: {}}\n")
    assert (problem.line, problem.column) == (2, 8)
    assert "U+0007" in problem.message
    assert problem.hint


def test_empty_file() -> None:
    problem = only_problem("# nothing here\n")
    assert (problem.line, problem.message) == (1, "the file is empty")
    assert "version: 1" in problem.hint


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.message) == (str(path), 0, "file not found")
    assert str(problem) == f"{path}: file not found; write instead: the path of a topology file"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(tmp_path)
    assert info.value.problems[0].message == "a directory: topology files are regular files"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"version: 1\n\xff\xfe\n")
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    assert info.value.problems[0].message.startswith("file is not UTF-8 text")


def test_problem_without_hint_has_no_write_instead() -> None:
    assert str(Problem("f.yaml", 3, 4, "broken")) == "f.yaml:3:4: broken"
    assert str(TopologyError([Problem("f", 2, 1, "b", "x"), Problem("f", 1, 1, "a")])) == (
        "f:1:1: a\nf:2:1: b; write instead: x"
    )


# --- ethtool and devlink settings --------------------------------------------------------------

_ETHTOOL_BASE = """\
version: 1
name: t
nodes:
  a:
    interfaces:
      eth0:
        ethtool:
"""


def test_ethtool_feature_value_must_be_on_or_off() -> None:
    problem = only_problem(_ETHTOOL_BASE + "          features: {tso: maybe}\nlinks: [[a:eth0, a:eth1]]\n")
    assert problem.line == 8
    assert "tso" in problem.message and "maybe" in problem.message


def test_ethtool_unknown_ring_names_the_allowed_keys() -> None:
    problem = only_problem(_ETHTOOL_BASE + "          rings: {rxx: 512}\nlinks: [[a:eth0, a:eth1]]\n")
    assert problem.line == 8
    assert "unknown key 'rxx'" in problem.message
    assert problem.hint == "one of rx, rx-mini, rx-jumbo, tx"


def test_ethtool_negative_channel_count_rejected() -> None:
    problem = only_problem(_ETHTOOL_BASE + "          channels: {combined: -1}\nlinks: [[a:eth0, a:eth1]]\n")
    assert problem.line == 8 and "combined" in problem.message


def test_devlink_param_cmode_and_eswitch_mode_are_enums() -> None:
    found = problems_of(
        """\
        version: 1
        name: t
        nodes:
          a:
            netdevsim:
              nsim0:
                ports: 1
                eswitch: switchdevv
                params: {max_macs: {value: 16, cmode: permanent}}
        """
    )
    assert sorted(p.line for p in found) == [8, 9], "\n".join(map(str, found))
    assert any("switchdev" in p.hint for p in found)
    assert any("driverinit" in p.hint for p in found)
