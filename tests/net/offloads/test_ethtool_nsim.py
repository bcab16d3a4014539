"""ethtool settings on a netdevsim port: features, rings, channels,
coalescing, pause (with statistics) and FEC (with injected errors).

netdevsim (drivers/net/netdevsim/ethtool.c) stores what it is given; the
limits come from the ethtool core (ring maxima that debugfs
``ethtool/ring/*_max_pending`` sets, channel maxima from the device's queue
count) and from the driver (pause autoneg refused, FEC errors injected
through ``ethtool/get_err`` and ``set_err``).

Reference: drivers/net/netdevsim/ethtool-{ring,coalesce,pause,fec}.sh.
"""

from __future__ import annotations

import pytest

from suitelib import ethtool as et

from suitelib.kernel_files import write_file

pytestmark = pytest.mark.topology("offloads-nsim")


# --- features -------------------------------------------------------------------------------


def test_toggleable_feature_changes(np0):
    np0.ethtool("-K", "{dev}", "hw-tc-offload", "off")
    assert np0.features()["hw-tc-offload"].on is False
    np0.ethtool("-K", "{dev}", "hw-tc-offload", "on", "gro", "off")
    features = np0.features()
    assert features["hw-tc-offload"].on and not features["generic-receive-offload"].on


def test_fixed_feature_is_refused_and_stays(np0):
    features = np0.features()
    assert features["tcp-segmentation-offload"].on
    fixed = [name for name in ("tx-tcp-segmentation", "large-receive-offload") if features[name].fixed]
    assert fixed, "netdevsim should mark tx-tcp-segmentation and large-receive-offload fixed"
    # ethtool 6.1 may exit 0 here; the refusal shows as "on [requested off]".
    out = np0.ethtool("-K", "{dev}", "tso", "off", check=False)
    changes = et.parse_features(out.stdout)
    assert changes["tx-tcp-segmentation"] == et.Feature(on=True, fixed=False, requested=False), out.stdout
    assert np0.features()["tx-tcp-segmentation"].on
    np0.refused("-K", "{dev}", "lro", "on")
    assert not np0.features()["large-receive-offload"].on


def test_unknown_feature_name_is_refused(np0):
    np0.refused("-K", "{dev}", "no-such-offload", "on")


# --- rings ------------------------------------------------------------------------------------


def test_ring_sizes_within_the_maximum_are_stored(np0):
    maxima, _ = np0.rings()
    assert maxima == {"rx": 4096, "rx-mini": 4096, "rx-jumbo": 4096, "tx": 4096} | {
        k: v for k, v in maxima.items() if k not in ("rx", "rx-mini", "rx-jumbo", "tx")
    }
    expected = dict(np0.rings()[1])
    for key, value in (("rx", 100), ("rx-mini", 7), ("rx-jumbo", 4096), ("tx", 1)):
        np0.ethtool("-G", "{dev}", key, str(value))
        expected[key] = value
        assert np0.rings()[1] == expected, key


def test_ring_size_above_the_maximum_is_refused(np0):
    before = np0.rings()[1]
    np0.refused("-G", "{dev}", "rx", "4097")
    assert np0.rings()[1] == before


def test_debugfs_ring_maxima_are_enforced(np0):
    ring = np0.debugfs / "ethtool" / "ring"
    for entry in ("rx_max_pending", "rx_mini_max_pending", "rx_jumbo_max_pending", "tx_max_pending"):
        write_file(ring / entry, 1000)
    maxima, _ = np0.rings()
    assert [maxima[k] for k in ("rx", "rx-mini", "rx-jumbo", "tx")] == [1000] * 4
    np0.ethtool("-G", "{dev}", "tx", "1000")
    assert np0.rings()[1]["tx"] == 1000
    np0.refused("-G", "{dev}", "tx", "1001")
    np0.refused("-G", "{dev}", "rx-jumbo", "1001")
    assert np0.rings()[1]["tx"] == 1000


# --- channels ---------------------------------------------------------------------------------


def test_combined_channels_follow_the_queue_count(np0):
    maxima, current = np0.channels()
    assert maxima["combined"] == 4 and current["combined"] == 2  # queues: 4, topology set 2
    for n in (1, 4, 3):
        np0.ethtool("-L", "{dev}", "combined", str(n))
        assert np0.channels()[1]["combined"] == n
        # The stack follows: the device has n real RX and TX queues.
        queues = np0.node.run(["ls", f"/sys/class/net/{np0.ifname}/queues"]).stdout.split()
        assert sorted(queues) == sorted([f"rx-{i}" for i in range(n)] + [f"tx-{i}" for i in range(n)])


def test_channels_beyond_the_maxima_are_refused(np0):
    np0.ethtool("-L", "{dev}", "combined", "3")
    np0.refused("-L", "{dev}", "combined", "5")
    np0.refused("-L", "{dev}", "rx", "1")  # netdevsim has no rx-only channels (max 0)
    np0.refused("-L", "{dev}", "combined", "0")  # no channel at all
    assert np0.channels()[1]["combined"] == 3


# --- coalescing -------------------------------------------------------------------------------


@pytest.mark.parametrize("param", et.COALESCE_INT_PARAMS)
def test_coalesce_parameter_is_stored(np0, param):
    printed = et.COALESCE_PRINTED_AS.get(param, param)
    before = np0.coalesce()
    value = 3000000000 if before.get(printed) != 3000000000 else 12345
    np0.ethtool("-C", "{dev}", param, str(value))
    after = np0.coalesce()
    assert after[printed] == value
    # Nothing else moved.
    assert {k: v for k, v in after.items() if k != printed} == {k: v for k, v in before.items() if k != printed}


def test_adaptive_coalescing_flags(np0):
    np0.ethtool("-C", "{dev}", "adaptive-rx", "on", "adaptive-tx", "off")
    c = np0.coalesce()
    assert (c["adaptive-rx"], c["adaptive-tx"]) == (True, False)
    np0.ethtool("-C", "{dev}", "adaptive-tx", "on")
    c = np0.coalesce()
    assert (c["adaptive-rx"], c["adaptive-tx"]) == (True, True)


def test_coalesce_value_beyond_u32_is_refused(np0):
    before = np0.coalesce()["rx-usecs"]
    np0.refused("-C", "{dev}", "rx-usecs", str(2**32))
    assert np0.coalesce()["rx-usecs"] == before


# --- pause ------------------------------------------------------------------------------------


def test_pause_rx_tx_are_stored_autoneg_refused(np0):
    np0.ethtool("-A", "{dev}", "rx", "off", "tx", "on")
    assert np0.pause() == {"autonegotiate": False, "rx": False, "tx": True}
    np0.ethtool("-A", "{dev}", "rx", "on", "tx", "off")
    assert np0.pause() == {"autonegotiate": False, "rx": True, "tx": False}
    np0.refused("-A", "{dev}", "autoneg", "on")
    assert np0.pause() == {"autonegotiate": False, "rx": True, "tx": False}


def test_pause_statistics_follow_the_debugfs_switches(np0):
    pause = np0.debugfs / "ethtool" / "pause"
    write_file(pause / "report_stats_tx", "n")
    write_file(pause / "report_stats_rx", "n")
    assert "statistics" not in et.pause_state(np0.json("-a", "{dev}"))  # not asked for
    assert et.pause_state(np0.json("-I", "-a", "{dev}"))["statistics"] == {}
    write_file(pause / "report_stats_tx", "y")
    assert et.pause_state(np0.json("-I", "-a", "{dev}"))["statistics"] == {"tx_pause_frames": 2}
    write_file(pause / "report_stats_rx", "y")
    assert et.pause_state(np0.json("-I", "-a", "{dev}"))["statistics"] == {"tx_pause_frames": 2, "rx_pause_frames": 1}


# --- FEC --------------------------------------------------------------------------------------


def fec(np0) -> tuple[list[str], list[str]]:
    return et.fec_modes(np0.json("--show-fec", "{dev}"))


@pytest.mark.parametrize(
    "words, config, active",
    [
        (["auto"], ["Auto"], ["Off"]),
        (["off"], ["Off"], ["Off"]),
        (["OFF"], ["Off"], ["Off"]),
        (["BaseR"], ["BaseR"], ["BaseR"]),
        (["baser"], ["BaseR"], ["BaseR"]),
        (["rs"], ["RS"], ["RS"]),
        (["llrs"], ["LLRS"], ["LLRS"]),
        (["rs", "llrs"], ["RS", "LLRS"], ["LLRS"]),
        (["rs", "off", "auto"], ["Auto", "Off", "RS"], ["RS"]),
    ],
)
def test_fec_encodings(np0, words, config, active):
    assert fec(np0) == (["None"], ["None"])  # netdevsim starts with None/None
    np0.ethtool("--set-fec", "{dev}", "encoding", *words)
    assert fec(np0) == (config, active)


@pytest.mark.parametrize("words", [["FIBRE"], ["bla-bla-bla"]])
def test_fec_other_link_modes_are_refused(np0, words):
    np0.refused("--set-fec", "{dev}", "encoding", *words)
    assert fec(np0) == (["None"], ["None"])


def test_fec_injected_errors(np0):
    knobs = np0.debugfs / "ethtool"
    write_file(knobs / "get_err", 11)
    out = np0.refused("--show-fec", "{dev}")
    assert "Resource temporarily unavailable" in out  # -EAGAIN (11) from the driver
    write_file(knobs / "get_err", 0)
    write_file(knobs / "set_err", 11)
    assert fec(np0) == (["None"], ["None"])  # reads work again
    np0.refused("--set-fec", "{dev}", "encoding", "rs")
    write_file(knobs / "set_err", 0)
    assert fec(np0) == (["None"], ["None"])
    np0.ethtool("--set-fec", "{dev}", "encoding", "rs")
    assert fec(np0) == (["RS"], ["RS"])
