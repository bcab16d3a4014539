"""Planning is pure: these tests need no root and create nothing."""

from __future__ import annotations

from harness.topology import load_topology_text
from harness.topology import plan as P

STAR = """
version: 1
name: star
nodes:
  sw:
    sysctls: {net.ipv4.ip_forward: 1, net.ipv4.conf.br0.forwarding: 1}
    bridges:
      br0:
        ports: {p1: {}, p2: {}}
    interfaces:
      br0: {addresses: [10.0.0.254/24]}
  h1:
    interfaces:
      eth0: {addresses: [10.0.0.1/24, "2001:db8::1/64"], mtu: 1400}
    routes:
      - {to: default, via: 10.0.0.254}
  h2:
    interfaces:
      eth0: {addresses: [10.0.0.2/24], state: down}
links:
  - [h1:eth0, sw:p1]
  - [sw:p2, h2:eth0]
"""


def star_plan(run_id: str = "abcd1234") -> P.Plan:
    return P.make_plan(load_topology_text(STAR, "star.yaml"), run_id)


def kinds(plan: P.Plan) -> list[str]:
    return [type(op).__name__ for op in plan.ops]


def test_namespace_names_carry_the_run_id():
    plan = star_plan("0badcafe")
    assert plan.netns == {"sw": "nh-0badcafe-sw", "h1": "nh-0badcafe-h1", "h2": "nh-0badcafe-h2"}


def test_two_runs_never_share_a_namespace_name():
    assert not set(star_plan("aaaa0000").netns.values()) & set(star_plan("bbbb1111").netns.values())


def test_order_namespaces_then_bridges_then_veths_then_addresses_then_routes():
    order = kinds(star_plan())
    first = {name: order.index(name) for name in reversed(order)}
    assert first["CreateNetns"] == 0
    assert first["CreateNetns"] < first["SetSysctl"] < first["CreateBridge"] < first["CreateVeth"]
    assert first["CreateVeth"] < first["AddAddress"] < first["AddRoute"]


def test_interface_sysctls_wait_until_interfaces_exist():
    plan = star_plan()
    ops = plan.ops
    forwarding = next(i for i, op in enumerate(ops) if isinstance(op, P.SetSysctl) and "br0" in op.key)
    ip_forward = next(i for i, op in enumerate(ops) if isinstance(op, P.SetSysctl) and op.key == "net.ipv4.ip_forward")
    last_create = max(i for i, op in enumerate(ops) if isinstance(op, (P.CreateVeth, P.CreateBridge)))
    assert ip_forward < last_create < forwarding


def test_bridge_port_end_is_local_and_joins_at_creation():
    veths = [op for op in star_plan().ops if isinstance(op, P.CreateVeth)]
    assert [(v.node, v.local.ifname, v.local_master, v.peer_node, v.peer.ifname) for v in veths] == [
        ("sw", "p1", "br0", "h1", "eth0"),
        ("sw", "p2", "br0", "h2", "eth0"),
    ]
    # Membership was done at creation: no separate SetMaster for veth ports.
    assert not [op for op in star_plan().ops if isinstance(op, P.SetMaster)]


def test_link_settings_reach_the_creation_request():
    veths = [op for op in star_plan().ops if isinstance(op, P.CreateVeth)]
    assert veths[0].peer.mtu == 1400 and veths[0].peer.up
    assert not veths[1].peer.up  # h2 eth0 state: down


def test_ifindexes_are_unique_per_namespace():
    plan = star_plan()
    per_node: dict[str, list[int]] = {}
    for (node, _), index in plan.ifindex.items():
        per_node.setdefault(node, []).append(index)
    for node, indexes in per_node.items():
        assert len(indexes) == len(set(indexes)), node
        assert min(indexes) >= P.IFINDEX_BASE


def test_bridge_is_brought_up_after_creation_and_loopback_everywhere():
    configure = [(op.node, op.ifname, op.up) for op in star_plan().ops if isinstance(op, P.ConfigureLink)]
    assert ("sw", "br0", True) in configure
    assert {n for n, i, up in configure if i == "lo" and up} == {"sw", "h1", "h2"}


def test_ipv6_and_ipv4_addresses_planned_in_file_order():
    addrs = [(op.node, str(op.address)) for op in star_plan().ops if isinstance(op, P.AddAddress)]
    assert addrs == [("sw", "10.0.0.254/24"), ("h1", "10.0.0.1/24"), ("h1", "2001:db8::1/64"), ("h2", "10.0.0.2/24")]


def test_interface_sysctl_classification():
    assert P.is_interface_sysctl("net.ipv4.conf.eth0.forwarding")
    assert P.is_interface_sysctl("net.ipv6.neigh.eth0.base_reachable_time_ms")
    assert not P.is_interface_sysctl("net.ipv4.conf.all.rp_filter")
    assert not P.is_interface_sysctl("net.ipv6.conf.default.accept_dad")
    assert not P.is_interface_sysctl("net.ipv4.ip_forward")


NSIM = """
version: 1
name: nsim
nodes:
  a:
    netdevsim:
      nsim0: {ports: 2, port_names: [swp1, swp2]}
    interfaces:
      swp1: {addresses: [192.0.2.1/24]}
  b:
    netdevsim:
      nsim1: {ports: 1, port_names: [np0]}
links:
  - {endpoints: [a:swp2, b:np0], kind: netdevsim}
"""


def test_netdevsim_devices_are_renamed_configured_and_peered():
    plan = P.make_plan(load_topology_text(NSIM, "nsim.yaml"), "r1")
    ops = plan.ops
    creates = [op for op in ops if isinstance(op, P.CreateNetdevsim)]
    assert [(c.node, c.device, c.ports) for c in creates] == [("a", "nsim0", 2), ("b", "nsim1", 1)]
    renames = [(op.node, op.port, op.ifname) for op in ops if isinstance(op, P.RenameNetdevsimPort)]
    assert renames == [("a", 0, "swp1"), ("a", 1, "swp2"), ("b", 0, "np0")]
    peer = next(op for op in ops if isinstance(op, P.PeerNetdevsim))
    assert (peer.node, peer.ifname, peer.peer_node, peer.peer_ifname) == ("a", "swp2", "b", "np0")
    # Ports come up (ConfigureLink) before peering and addresses.
    up = ops.index(next(op for op in ops if isinstance(op, P.ConfigureLink) and op.ifname == "swp1"))
    assert up < ops.index(peer)
    assert not [op for op in ops if isinstance(op, P.CreateVeth)]


VLAN_ON_BRIDGE = """
version: 1
name: vob
nodes:
  sw:
    bridges:
      br0: {vlan_filtering: true, ports: {p1: {vlans: [{vid: 10, pvid: true, untagged: true}]}}}
    vlans:
      br0.10: {link: br0, id: 10, addresses: [192.0.2.254/24]}
  h1:
    interfaces:
      eth0: {addresses: [192.0.2.1/24]}
links:
  - [h1:eth0, sw:p1]
"""


def test_vlan_interface_on_a_filtering_bridge_adds_the_vid_to_the_bridge_itself():
    ops = P.make_plan(load_topology_text(VLAN_ON_BRIDGE, "vob.yaml"), "r").ops
    own = [op for op in ops if isinstance(op, P.AddBridgeVlan) and op.on_bridge]
    assert [(op.ifname, op.vlans.first) for op in own] == [("br0", 10)]
    port = [op for op in ops if isinstance(op, P.AddBridgeVlan) and not op.on_bridge]
    assert [(op.ifname, op.vlans.first, op.vlans.pvid, op.vlans.untagged) for op in port] == [("p1", 10, True, True)]


SETTINGS = """
version: 1
name: settings
nodes:
  a:
    netdevsim:
      nsim0:
        ports: 2
        port_names: [swp1, swp2]
        params: {test1: false, max_macs: {value: 16, cmode: driverinit}}
        eswitch: switchdev
    interfaces:
      swp1:
        addresses: [192.0.2.1/24]
        ethtool:
          features: {tso: off, gso: off}
          rings: {rx: 512}
          channels: {combined: 1}
          coalesce: {adaptive-rx: on, rx-usecs: 30}
          pause: {autoneg: off, rx: on, tx: off}
  b:
    interfaces:
      eth0: {ethtool: {features: {tx-checksumming: off}}}
links:
  - [a:eth0, b:eth0]
"""


def test_devlink_settings_come_before_the_port_renames_and_reload_only_for_driverinit():
    plan = P.make_plan(load_topology_text(SETTINGS, "s.yaml"), "r")
    names = kinds(plan)
    first = names.index("CreateNetdevsim")
    assert names[first:first + 5] == [
        "CreateNetdevsim", "SetDevlinkParam", "SetDevlinkParam", "ReloadDevlink", "SetEswitchMode",
    ]
    assert names.index("SetEswitchMode") < names.index("RenameNetdevsimPort")
    assert P.devlink_param_argv(4001, plan.ops[first + 2].param) == (
        "devlink", "dev", "param", "set", "netdevsim/netdevsim4001", "name", "max_macs",
        "value", "16", "cmode", "driverinit",
    )
    assert P.devlink_reload_argv(7) == ("devlink", "dev", "reload", "netdevsim/netdevsim7")
    assert P.eswitch_argv(7, "switchdev")[-2:] == ("mode", "switchdev")


def test_runtime_params_alone_need_no_reload():
    text = SETTINGS.replace("max_macs: {value: 16, cmode: driverinit}", "max_macs: 16")
    assert "ReloadDevlink" not in kinds(P.make_plan(load_topology_text(text, "s.yaml"), "r"))


def test_ethtool_commands_in_group_order_after_link_up_before_addresses():
    plan = P.make_plan(load_topology_text(SETTINGS, "s.yaml"), "r")
    runs = [op for op in plan.ops if isinstance(op, P.RunEthtool)]
    assert [(op.node, op.argv) for op in runs] == [
        ("a", ("ethtool", "-K", "swp1", "tso", "off", "gso", "off")),
        ("a", ("ethtool", "-G", "swp1", "rx", "512")),
        ("a", ("ethtool", "-L", "swp1", "combined", "1")),
        ("a", ("ethtool", "-C", "swp1", "adaptive-rx", "on", "rx-usecs", "30")),
        ("a", ("ethtool", "-A", "swp1", "autoneg", "off", "rx", "on", "tx", "off")),
        ("b", ("ethtool", "-K", "eth0", "tx-checksumming", "off")),
    ]
    ops = plan.ops
    up = ops.index(next(op for op in ops if isinstance(op, P.ConfigureLink) and op.ifname == "swp1"))
    addr = ops.index(next(op for op in ops if isinstance(op, P.AddAddress)))
    veth = ops.index(next(op for op in ops if isinstance(op, P.CreateVeth)))
    assert up < ops.index(runs[0]) and veth < ops.index(runs[-1])
    assert ops.index(runs[4]) < addr  # swp1's address after swp1's settings
