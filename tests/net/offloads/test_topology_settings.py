"""The topology contract's devlink and ethtool settings, built for real.

offloads-nsim.yaml asks for a driverinit devlink parameter (so the builder
reloads the device), switchdev eswitch mode, and ethtool features, rings,
channels, coalescing and pause on the port; offloads-veth.yaml turns
features off on a veth. These tests read back what the kernel holds, and
check that teardown removes the device with its settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.topology import load_topology, load_topology_text
from harness.topology.build import BuildError
from harness.topology.live import LiveTopology

from suitelib.netdevsim import BUS, DEBUGFS

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.topology("offloads-nsim")
def test_devlink_settings_from_the_topology_are_in_force(topo, np0):
    # driverinit max_macs=16 reached the driver only through the builder's reload.
    assert (np0.dev_debugfs / "max_macs").read_text().strip() == "16"
    mode = topo["dut"].json(["devlink", "-j", "dev", "eswitch", "show", f"netdevsim/netdevsim{np0.dev_id}"])
    assert mode["dev"][f"netdevsim/netdevsim{np0.dev_id}"]["mode"] == "switchdev"
    # The reload re-created the port; the rename came after it.
    assert topo["dut"].link("np0")["up"]


@pytest.mark.topology("offloads-nsim")
def test_ethtool_settings_from_the_topology_are_in_force(np0):
    assert np0.features()["hw-tc-offload"].on
    assert np0.rings()[1]["rx"] == 512 and np0.rings()[1]["tx"] == 256
    assert np0.channels()[1]["combined"] == 2
    coalesce = np0.coalesce()
    assert coalesce["rx-usecs"] == 30 and coalesce["adaptive-tx"] is True and coalesce["adaptive-rx"] is False
    assert np0.pause() == {"autonegotiate": False, "rx": True, "tx": False}


@pytest.mark.topology("offloads-veth")
def test_veth_features_from_the_topology_are_in_force(topo):
    from suitelib.offload_port import Port

    tx, rx = Port(topo["tx"], "eth0"), Port(topo["rx"], "eth0")
    features = tx.features()
    for name in ("tcp-segmentation-offload", "generic-segmentation-offload", "tx-checksumming"):
        assert features[name].on is False, name
    assert rx.features()["generic-receive-offload"].on is False
    # Negative control: what the file did not mention keeps the veth default.
    assert features["scatter-gather"].on is True


BAD_SETTING = """
version: 1
name: offl-bad
nodes:
  dut:
    netdevsim:
      nsim0: {ports: 1, port_names: [np0], queues: 2}
    interfaces:
      np0:
        ethtool:
          channels: {combined: 3}
"""


@pytest.mark.requires(kconfig=["NETDEVSIM"], sysfs=["/sys/bus/netdevsim"], tools=["ethtool"])
def test_refused_setting_fails_the_build_and_leaves_nothing():
    before = {p.name for p in (BUS / "devices").iterdir()}
    with pytest.raises(BuildError) as info:
        LiveTopology.up(load_topology_text(BAD_SETTING, "offl-bad.yaml"))
    assert "ethtool -L np0 combined 3" in str(info.value)
    assert {p.name for p in (BUS / "devices").iterdir()} == before


@pytest.mark.requires(kconfig=["NETDEVSIM"], sysfs=["/sys/bus/netdevsim"], tools=["ethtool", "devlink"])
def test_teardown_removes_the_device_with_its_settings():
    live = LiveTopology.up(load_topology(REPO / "topologies" / "offloads-nsim.yaml"))
    dev_id = live.netdevsim_id("dut", "nsim0")
    assert (BUS / "devices" / f"netdevsim{dev_id}").is_dir()
    removed = live.down()
    assert f"netdevsim{dev_id} (dut/nsim0)" in removed
    assert not (BUS / "devices" / f"netdevsim{dev_id}").exists()
    assert not (DEBUGFS / f"netdevsim{dev_id}").exists()
