"""Packet sampling (psample) on netdevsim: enable/disable, group numbers and
sample metadata, read from the psample family's ``packets`` group.

netdevsim reports a made-up sampled packet every 100 ms while its debugfs
``psample/enable`` is 1, with metadata taken from the other ``psample/*``
knobs at that moment; the group number is fixed when sampling starts.
Samples go to the namespace of the device's devlink instance, which is the
node's (the builder creates the device from inside it).

Reference: drivers/net/netdevsim/psample.sh (psample_enable_test,
psample_group_num_test, psample_md_test).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

import pytest

from suitelib.genl import GroupListener
from suitelib.kernel_files import write_errno, write_file
from suitelib.offload_port import Port, nsim_port
from suitelib.psample import packets_listener

pytestmark = [
    pytest.mark.topology("offloads-dev"),
    pytest.mark.requires(kconfig=["PSAMPLE"]),
]

WAIT = 10.0  # a sample every 100 ms; generous for TCG
QUIET = 1.0  # how long "no sample" is watched for
INVALID_TC = 0xFFFF  # netdevsim's "no out_tc" value


@pytest.fixture
def port(topo) -> Port:
    port = nsim_port(topo, "dut", "nsim0", "np0")
    if not (port.dev_debugfs / "psample").is_dir():
        pytest.skip(f"{port.dev_debugfs / 'psample'} missing (netdevsim built without CONFIG_PSAMPLE)")
    return port


@pytest.fixture
def samples(port) -> Iterator[GroupListener[dict[str, Any]]]:
    listener = packets_listener(port.node.netlink_socket(), port.node.netlink_socket())
    try:
        yield listener
    finally:
        write_errno(port.dev_debugfs / "psample" / "enable", "0")  # EINVAL when already off: fine
        listener.close()


def knob(port: Port, name: str, value: int) -> None:
    write_file(port.dev_debugfs / "psample" / name, str(value))


def next_sample(samples: GroupListener[dict[str, Any]]) -> dict[str, Any]:
    """The first sample that arrives after now (older ones are dropped)."""
    samples.drain()
    return samples.wait_for(lambda s: True, WAIT, "psample sample")


def test_enable_delivers_samples_and_disable_stops_them(port, samples):
    enable = port.dev_debugfs / "psample" / "enable"
    assert write_errno(enable, "1") == 0
    assert write_errno(enable, "1") == errno.EBUSY  # already sampling
    sample = next_sample(samples)
    assert len(sample["data"]) == sample["origsize"] > 0  # no truncation asked for
    assert write_errno(enable, "0") == 0
    assert write_errno(enable, "0") == errno.EINVAL  # not sampling
    samples.drain()
    samples.poll(QUIET)
    assert samples.received == [], "samples kept coming after sampling was disabled"


def test_group_number_is_fixed_when_sampling_starts(port, samples):
    knob(port, "group_num", 1234)
    knob(port, "enable", 1)
    assert next_sample(samples)["sample_group"] == 1234
    knob(port, "group_num", 4321)  # while sampling: not used yet
    samples.drain()
    samples.poll(QUIET)
    groups = {s["sample_group"] for s in samples.received}
    assert groups == {1234}, f"group changed while sampling was active: {groups}"
    knob(port, "enable", 0)
    knob(port, "enable", 1)
    assert next_sample(samples)["sample_group"] == 4321


def test_metadata_follows_the_knobs(port, samples):
    knob(port, "enable", 1)
    knob(port, "in_ifindex", 1234)
    knob(port, "out_ifindex", 4321)
    sample = next_sample(samples)
    assert (sample.get("iifindex"), sample.get("oifindex")) == (1234, 4321)

    knob(port, "out_tc", 5)
    assert next_sample(samples).get("out_tc") == 5
    knob(port, "out_tc", INVALID_TC)
    assert "out_tc" not in next_sample(samples)  # negative control: no out-tc attribute

    knob(port, "out_tc_occ_max", 10000)
    sample = next_sample(samples)
    assert "out_tc_occ" in sample and sample["out_tc_occ"] < 10000
    knob(port, "out_tc_occ_max", 0)
    assert "out_tc_occ" not in next_sample(samples)

    knob(port, "latency_max", 10000)
    sample = next_sample(samples)
    assert "latency" in sample and sample["latency"] < 10000
    knob(port, "latency_max", 0)
    assert "latency" not in next_sample(samples)


def test_truncation_keeps_the_original_size(port, samples):
    knob(port, "trunc_size", 20)
    knob(port, "enable", 1)
    sample = next_sample(samples)
    assert len(sample["data"]) == 20 and sample["origsize"] > 20
