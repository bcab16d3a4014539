"""Cross-reference rules of topology files (what the schema cannot say).

One bad file per rule; each test checks the exact line (and the column, by
naming the token it must point at) and the hint, since "where" and "what to
write instead" are the point of these messages.
"""

from __future__ import annotations

import textwrap

import pytest

from harness.topology import Problem, TopologyError, load_topology_text


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


def assert_at(problem: Problem, text: str, line: int, token: str) -> None:
    assert (problem.line, problem.column) == (line, column_of(text, line, token)), str(problem)


# --- links -----------------------------------------------------------------------------------


def test_link_endpoint_must_name_a_declared_node() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          c1: {}
          s1: {}
        links:
          - [c1:eth0, s2:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 7, "s2:eth0")
    assert problem.message == "link endpoint 's2:eth0' names node 's2', which is not declared under nodes"
    assert problem.hint == "s1:eth0"


def test_link_endpoint_to_unknown_node_without_close_match_lists_nodes() -> None:
    text = "version: 1\nname: t\nnodes: {c1: {}, s1: {}}\nlinks:\n  - {endpoints: [c1:eth0, zzz:eth0]}\n"
    problem = only_problem(text)
    assert_at(problem, text, 5, "zzz")
    assert problem.hint == "one of the nodes: c1, s1"


def test_link_endpoint_interface_name_too_long() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:eth0, b:abcdefghijklmnop]\n"
    problem = only_problem(text)
    assert_at(problem, text, 5, "b:abc")
    assert problem.message == (
        "interface name 'abcdefghijklmnop' in link endpoint 'b:abcdefghijklmnop' is not valid: "
        "it is 16 bytes long, the limit is 15"
    )
    assert "at most 15 bytes" in problem.hint


def test_interface_name_limit_counts_bytes_not_characters() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:eth0, b:ééééééééé]\n"
    problem = only_problem(text)
    assert problem.line == 5
    assert "18 bytes long" in problem.message


def test_netdevsim_port_name_limit_counts_bytes() -> None:
    """The schema counts characters; the kernel counts bytes, so the check must too."""
    text = "version: 1\nname: t\nnodes:\n  a:\n    netdevsim:\n      nsim0: {ports: 1, port_names: [ééééééééé]}\n"
    problem = only_problem(text)
    assert_at(problem, text, 6, "ééé")
    assert problem.message == (
        "interface name 'ééééééééé' of netdevsim device nsim0 is not valid: it is 18 bytes long, the limit is 15"
    )
    assert problem.hint.startswith("a name of at most 15 bytes")


def test_interface_can_be_in_one_link_only() -> None:
    text = """\
        version: 1
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - [a:eth0, b:eth0]
          - [a:eth0, c:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 6, "a:eth0")
    assert problem.message == "interface a:eth0 is already in link #1; an interface can be in one link only"
    assert problem.hint == "another interface name in link #2"


def test_link_to_itself() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}}\nlinks:\n  - [a:eth0, a:eth0]\n"
    problem = only_problem(text)
    assert_at(problem, text, 5, "a:eth0]")
    assert problem.message == "link #1 joins a:eth0 to itself"
    assert problem.hint


def test_veth_inside_one_node_with_two_names_is_fine() -> None:
    topology = load_topology_text("version: 1\nname: t\nnodes: {a: {}}\nlinks:\n  - [a:veth0, a:veth1]\n")
    assert [str(topology.links[0].a), str(topology.links[0].b)] == ["a:veth0", "a:veth1"]


# --- who creates an interface ---------------------------------------------------------------------


def test_veth_link_over_a_netdevsim_port_suggests_kind_netdevsim() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          sw:
            netdevsim:
              nsim0: {ports: 1, port_names: [swp1]}
          h1: {}
        links:
          - [sw:swp1, h1:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 9, "sw:swp1")
    assert problem.message == (
        "interface 'swp1' in node sw is created twice: by netdevsim device nsim0 (line 6) and by link #1"
    )
    assert problem.hint.startswith("kind: netdevsim on link #1")


def test_bridge_and_vlan_with_the_same_name() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          sw:
            bridges:
              br0: {}
            vlans:
              br0: {link: eth0, id: 10}
        links:
          - [sw:eth0, sw:eth1]
        """
    problem = only_problem(text)
    assert_at(problem, text, 8, "br0")
    assert problem.message == "interface 'br0' in node sw is created twice: by bridge br0 (line 6) and by vlan br0"
    assert problem.hint == "another interface name for vlan br0"


def test_link_must_not_create_lo() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}, b: {}}\nlinks:\n  - [a:lo, b:eth0]\n"
    problem = only_problem(text)
    assert_at(problem, text, 5, "a:lo")
    assert problem.message == "link #1 creates 'lo' in node a, which always exists"
    assert problem.hint


def test_interfaces_entry_that_nothing_creates() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          c1:
            interfaces:
              eth0: {addresses: [10.0.0.1/24]}
              eth1: {addresses: [10.0.1.1/24]}
          s1: {}
        links:
          - [c1:eth0, s1:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 7, "eth1")
    assert problem.message.startswith("interface 'eth1' in node c1 is configured but nothing creates it")
    assert problem.hint == "eth0"


def test_interfaces_entry_without_any_creator_suggests_a_link() -> None:
    text = "version: 1\nname: t\nnodes:\n  c1:\n    interfaces:\n      eth0: {mtu: 1500}\n"
    problem = only_problem(text)
    assert_at(problem, text, 6, "eth0")
    assert problem.hint == "a link that creates it, e.g. links: [[c1:eth0, other:eth0]]"


def test_lo_may_be_configured_without_a_creator() -> None:
    text = "version: 1\nname: t\nnodes:\n  c1:\n    interfaces:\n      lo: {addresses: [127.0.0.2/8]}\n"
    assert str(load_topology_text(text).node("c1").interface("lo").addresses[0]) == "127.0.0.2/8"


def test_vlan_settings_given_twice() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          h1:
            interfaces:
              eth0.10: {mtu: 1400}
            vlans:
              eth0.10: {link: eth0, id: 10, addresses: [10.0.0.1/24]}
          h2: {}
        links:
          - [h1:eth0, h2:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 6, "eth0.10")
    assert problem.message == "interface 'eth0.10' in node h1 is configured twice: here and under vlans"
    assert problem.hint == "all settings of eth0.10 in one place"


# --- addresses and MAC -------------------------------------------------------------------------------

ADDRESS_DOC = """\
version: 1
name: t
nodes:
  c1:
    interfaces:
      eth0: {{addresses: [{addresses}]}}
  s1: {{}}
links:
  - [c1:eth0, s1:eth0]
"""


@pytest.mark.parametrize(
    ("addresses", "token", "message", "hint"),
    [
        ("10.0.0.300/24", "10.0.0.300/24",
         "address #1 '10.0.0.300/24' in node c1 interface eth0 is not an address with prefix length",
         "an address with prefix length, e.g. 10.0.0.1/24 or 2001:db8::1/64"),
        ("10.0.0.1", "10.0.0.1",
         "address #1 '10.0.0.1' in node c1 interface eth0 is not an address with prefix length", "10.0.0.1/24"),
        ('"2001:db8::1"', '"2001',
         "address #1 '2001:db8::1' in node c1 interface eth0 is not an address with prefix length",
         "2001:db8::1/64"),
        ("10.0.0.1/33", "10.0.0.1/33",
         "address #1 '10.0.0.1/33' in node c1 interface eth0 is not an address with prefix length",
         "an address with prefix length, e.g. 10.0.0.1/24 or 2001:db8::1/64"),
        ("10.0.0.1/24, 10.0.0.2/24, 10.0.0.1/24", "10.0.0.1/24]",
         "address #3 '10.0.0.1/24' in node c1 interface eth0 repeats address #1", "list each address once"),
        ('"2001:db8::1/64", "2001:DB8:0::1/64"', "\"2001:DB8",
         "address #2 '2001:DB8:0::1/64' in node c1 interface eth0 repeats address #1", "list each address once"),
    ],
)
def test_addresses(addresses: str, token: str, message: str, hint: str) -> None:
    text = ADDRESS_DOC.format(addresses=addresses)
    problem = only_problem(text)
    assert_at(problem, text, 6, token)
    assert problem.message == message
    assert problem.hint == hint


def test_same_address_with_other_prefix_is_a_different_address() -> None:
    text = ADDRESS_DOC.format(addresses="10.0.0.1/24, 10.0.0.1/25")
    assert len(load_topology_text(text).node("c1").interface("eth0").addresses) == 2


def test_multicast_mac_is_refused() -> None:
    text = ADDRESS_DOC.format(addresses="10.0.0.1/24").replace(
        "{addresses: [10.0.0.1/24]}", '{mac: "03:00:00:00:00:01"}'
    )
    problem = only_problem(text)
    assert_at(problem, text, 6, '"03')
    assert "is a multicast address" in problem.message
    assert problem.hint == "mac: 02:00:00:00:00:01"


# --- bridges and VLANs ------------------------------------------------------------------------------

BRIDGE_DOC = """\
version: 1
name: t
nodes:
  sw:
    bridges:
      br0:
        vlan_filtering: {filtering}
        ports:
          p1: {{vlans: [{vlans}]}}
  h1: {{}}
links:
  - [h1:eth0, sw:p1]
"""


def test_port_vlans_need_vlan_filtering() -> None:
    text = BRIDGE_DOC.format(filtering="false", vlans="10")
    problem = only_problem(text)
    assert_at(problem, text, 9, "vlans")
    assert problem.message == "port p1 of bridge br0 in node sw has vlans but the bridge does not filter VLANs"
    assert problem.hint == "vlan_filtering: true under bridge br0"


@pytest.mark.parametrize(
    ("vlans", "token", "message", "hint"),
    [
        ('"29-20"', '"29-20"', "vlan #1 '29-20' in node sw bridge br0 port p1 is not a VLAN id 1-4094 or a "
         "range a-b with a <= b", "10, or a range such as 20-29"),
        ('"4000-4095"', '"4000', "vlan #1 '4000-4095' in node sw bridge br0 port p1 is not a VLAN id 1-4094 "
         "or a range a-b with a <= b", "10, or a range such as 20-29"),
        ('{vid: "0"}', "{vid", "vlan #1 '0' in node sw bridge br0 port p1 is not a VLAN id 1-4094 or a range "
         "a-b with a <= b", "10, or a range such as 20-29"),
        ('10, "5-15"', '"5-15"', "vlan #2 in node sw bridge br0 port p1 repeats VLAN 10",
         "each VLAN id once per port"),
        ("{vid: 10, pvid: true}, {vid: 20, pvid: true}", "{vid: 20",
         "vlan #2 in node sw bridge br0 port p1 is a second pvid (the first is vlan #1); a port has one pvid",
         "pvid: true on one VLAN only"),
        ('{vid: "10-12", pvid: true}', "{vid", "vlan #1 in node sw bridge br0 port p1 gives pvid to a range; "
         "the pvid is one VLAN", "{vid: 10, pvid: true}"),
    ],
)
def test_port_vlan_rules(vlans: str, token: str, message: str, hint: str) -> None:
    text = BRIDGE_DOC.format(filtering="true", vlans=vlans)
    problem = only_problem(text)
    assert_at(problem, text, 9, token)
    assert problem.message == message
    assert problem.hint == hint


def test_bridge_port_must_exist() -> None:
    text = BRIDGE_DOC.format(filtering="true", vlans="10").replace("[h1:eth0, sw:p1]", "[h1:eth0, sw:p2]")
    problem = only_problem(text)
    assert_at(problem, text, 9, "p1")
    assert problem.message == "port 'p1' of bridge br0 in node sw does not exist in the node"
    assert problem.hint == "p2"


def test_interface_in_two_bridges() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          sw:
            bridges:
              br0: {ports: {p1: {}}}
              br1: {ports: {p1: {}}}
          h1: {}
        links:
          - [h1:eth0, sw:p1]
        """
    problem = only_problem(text)
    assert_at(problem, text, 7, "p1")
    assert problem.message == "interface 'p1' in node sw is a port of bridge br0 and of bridge br1"
    assert problem.hint == "another port for bridge br1"


def test_bridge_cannot_be_its_own_or_another_bridges_port() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          sw:
            bridges:
              br0: {ports: {br0: {}}}
              br1: {ports: {br0: {}}}
        """
    found = problems_of(text)
    assert [(p.line, p.message) for p in found] == [
        (6, "bridge br0 in node sw lists itself as a port"),
        (7, "port 'br0' of bridge br1 in node sw is a bridge; the kernel does not enslave a bridge to a bridge"),
    ]
    assert all(p.hint for p in found)


def test_vlan_link_must_exist() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          h1:
            vlans:
              eth0.10: {link: eht0, id: 10}
          h2: {}
        links:
          - [h1:eth0, h2:eth0]
        """
    problem = only_problem(text)
    assert_at(problem, text, 6, "eht0")
    assert problem.message == "link 'eht0' of vlan eth0.10 in node h1 does not exist in the node"
    assert problem.hint == "link: eth0"


# --- routes ------------------------------------------------------------------------------------------

ROUTE_DOC = """\
version: 1
name: t
nodes:
  c1:
    interfaces:
      eth0: {{addresses: [10.0.0.1/24, "2001:db8::1/64"]}}
    routes:
      - {route}
  s1: {{}}
links:
  - [c1:eth0, s1:eth0]
"""


@pytest.mark.parametrize(
    ("route", "token", "message", "hint"),
    [
        ('{to: "2001:db8:1::/64", via: 10.0.0.2}', "10.0.0.2",
         "gateway 10.0.0.2 is IPv4 but the destination is IPv6", "an IPv6 gateway"),
        ('{to: 10.1.0.0/16, via: "2001:db8::2"}', '"2001',
         "gateway 2001:db8::2 is IPv6 but the destination is IPv4", "an IPv4 gateway"),
        ("{to: 10.1.0.0/16, dev: eth1}", "eth1",
         "dev 'eth1' of route #1 in node c1 does not exist in the node", "dev: eth0"),
        ("{to: 10.1.0.5/16, dev: eth0}", "10.1.0.5/16",
         "route destination '10.1.0.5/16' has host bits set", "to: 10.1.0.0/16"),
        ("{to: defualt, via: 10.0.0.2}", "defualt",
         "route destination 'defualt' is not default or a network", "to: default, or a network such as 10.0.0.0/24"),
        ("{to: default, via: 10.0.0.256}", "10.0.0.256",
         "gateway '10.0.0.256' is not an IP address", "via: 10.0.0.1"),
        ("{to: 10.1.0.0/16}", "{to",
         "route #1 in node c1 has neither via nor dev", "via: <gateway address> or dev: <interface>"),
    ],
)
def test_routes(route: str, token: str, message: str, hint: str) -> None:
    text = ROUTE_DOC.format(route=route)
    problem = only_problem(text)
    assert_at(problem, text, 8, token)
    assert problem.message == message
    assert problem.hint == hint


def test_default_route_takes_family_from_gateway() -> None:
    text = ROUTE_DOC.format(route='{to: default, via: "2001:db8::2"}')
    assert load_topology_text(text).node("c1").routes[0].family == 6


def test_route_via_lo_is_allowed() -> None:
    text = ROUTE_DOC.format(route="{to: 192.0.2.0/24, dev: lo}")
    assert load_topology_text(text).node("c1").routes[0].dev == "lo"


# --- MPTCP ---------------------------------------------------------------------------------------------

MPTCP_DOC = """\
version: 1
name: t
nodes:
  c1:
    interfaces:
      eth0: {{addresses: [10.0.1.1/24]}}
      eth1: {{addresses: [10.0.2.1/24]}}
    mptcp:
      endpoints:
        - {{address: 10.0.1.1, id: 1}}
        - {endpoint}
  s1: {{}}
links:
  - [c1:eth0, s1:eth0]
  - [c1:eth1, s1:eth1]
"""


@pytest.mark.parametrize(
    ("endpoint", "token", "message", "hint"),
    [
        ("{address: 10.0.3.1}", "10.0.3.1",
         "address 10.0.3.1 of mptcp endpoint #2 in node c1 is not one of the node's addresses",
         "one of the node's addresses: 10.0.1.1, 10.0.2.1"),
        ("{address: 10.0.2.1, interface: eth2}", "eth2",
         "interface 'eth2' of mptcp endpoint #2 in node c1 does not exist in the node", "interface: eth1"),
        ("{address: 10.0.2.1, id: 1}", "1}",
         "id 1 of mptcp endpoint #2 in node c1 is already used by endpoint #1",
         "another id, or none to let the kernel choose"),
        ("{address: 10.0.2.1, port: 1000, flags: [subflow]}", "1000",
         "mptcp endpoint #2 in node c1 has a port but not the signal flag",
         "flags: [signal] (a port is only announced)"),
        ("{address: 10.0.2.1, flags: [signal, fullmesh]}", "flags",
         "mptcp endpoint #2 in node c1 has both signal and fullmesh, which the kernel refuses",
         "flags: [subflow, fullmesh] or flags: [signal]"),
        ("{address: 10.0.2}", "10.0.2",
         "address '10.0.2' of mptcp endpoint #2 in node c1 is not an IP address",
         "one of the node's addresses: 10.0.1.1, 10.0.2.1"),
    ],
)
def test_mptcp_endpoints(endpoint: str, token: str, message: str, hint: str) -> None:
    text = MPTCP_DOC.format(endpoint=endpoint)
    problem = only_problem(text)
    assert_at(problem, text, 11, token)
    assert problem.message == message
    assert problem.hint == hint


def test_mptcp_endpoint_may_use_an_address_of_a_vlan_interface() -> None:
    text = MPTCP_DOC.format(endpoint="{address: 192.0.2.1, interface: eth1.5}").replace(
        "    mptcp:", "    vlans:\n      eth1.5: {link: eth1, id: 5, addresses: [192.0.2.1/24]}\n    mptcp:"
    )
    endpoints = load_topology_text(text).node("c1").mptcp.endpoints
    assert [str(e.address) for e in endpoints] == ["10.0.1.1", "192.0.2.1"]


# --- netdevsim -------------------------------------------------------------------------------------------


def test_port_names_must_match_port_count() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          sw:
            netdevsim:
              nsim0: {ports: 4, port_names: [swp1, swp2]}
        """
    problem = only_problem(text)
    assert_at(problem, text, 6, "port_names")
    assert problem.message == "netdevsim device nsim0 in node sw has 4 ports but 2 port names"
    assert problem.hint == "ports: 2, or one name per port"


NSIM_LINK_DOC = """\
version: 1
name: t
nodes:
  a:
    netdevsim:
      nsim0: {{ports: 2, port_names: [np0, np1]}}
  b:
    netdevsim:
      nsim0: {{ports: 1, port_names: [np0]}}
  c: {{}}
links:
  - {{endpoints: [{a}, {b}], kind: netdevsim}}
"""


def test_netdevsim_link_between_ports_of_two_nodes_is_fine() -> None:
    link = load_topology_text(NSIM_LINK_DOC.format(a="a:np1", b="b:np0")).links[0]
    assert (str(link.a), str(link.b), link.kind) == ("a:np1", "b:np0", "netdevsim")


def test_netdevsim_link_needs_netdevsim_ports() -> None:
    text = NSIM_LINK_DOC.format(a="a:np0", b="c:eth0")
    problem = only_problem(text)
    assert_at(problem, text, 12, "c:eth0")
    assert problem.message == "link #1 is kind netdevsim but c:eth0 is not a netdevsim port"
    assert problem.hint == "a netdevsim device in node c, e.g. netdevsim: {nsim0: {ports: 1, port_names: [eth0]}}"


def test_netdevsim_link_to_unknown_port_lists_the_ports() -> None:
    text = NSIM_LINK_DOC.format(a="a:np7", b="b:np0")
    problem = only_problem(text)
    assert_at(problem, text, 12, "a:np7")
    assert problem.hint == "one of node a's netdevsim ports: np0, np1"


def test_netdevsim_link_within_one_node() -> None:
    text = NSIM_LINK_DOC.format(a="a:np0", b="a:np1")
    problem = only_problem(text)
    assert_at(problem, text, 12, "a:np1")
    assert problem.message == (
        "link #1 peers two netdevsim ports of the same node a; netdevsim peers must be in different nodes"
    )
    assert problem.hint == "a port of another node, or a veth link"


# --- requires ----------------------------------------------------------------------------------------------


def test_kconfig_listed_with_and_without_prefix() -> None:
    text = "version: 1\nname: t\nrequires:\n  kconfig: [MPTCP, CONFIG_MPTCP]\nnodes: {a: {}}\n"
    problem = only_problem(text)
    assert_at(problem, text, 4, "CONFIG_MPTCP")
    assert problem.message == "kconfig option 'CONFIG_MPTCP' repeats 'MPTCP'"
    assert problem.hint == "list CONFIG_MPTCP once"


# --- collection and ordering ------------------------------------------------------------------------------


def test_all_semantic_problems_are_reported_together_in_file_order() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          c1:
            interfaces:
              eth9: {}
            routes:
              - {to: default, dev: eth8}
          s1: {}
        links:
          - [c1:eth0, s9:eth0]
        """
    found = problems_of(text)
    assert [p.line for p in found] == [6, 8, 11]
    assert all(p.hint and p.file == "t.yaml" for p in found)


def test_semantic_checks_wait_for_a_schema_valid_file() -> None:
    """A schema error would make later checks guess; they must not run (and not crash)."""
    text = "version: 1\nname: t\nnodes: {c1: {interfaces: {eth0: {mtu: 1}}}}\nlinks:\n  - [c1:eth1, x:y]\n"
    found = problems_of(text)
    assert [p.message for p in found] == ["mtu in node c1 interface eth0 must be from 68 to 65535, not 1"]


def test_ethtool_rings_on_a_bridge_are_refused_features_are_fine() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          a:
            bridges: {br0: {}}
            interfaces:
              br0:
                ethtool:
                  features: {tx-checksumming: off}
                  rings: {rx: 64}
        """
    problem = only_problem(text)
    assert_at(problem, text, 10, "rings")
    assert "no rings settings for a bridge device" in problem.message
    assert "veth or netdevsim port" in problem.hint


def test_ethtool_pause_on_lo_is_refused() -> None:
    text = """\
        version: 1
        name: t
        nodes:
          a:
            interfaces:
              lo: {ethtool: {pause: {rx: on}}}
        """
    problem = only_problem(text)
    assert problem.line == 6 and "loopback" in problem.message
