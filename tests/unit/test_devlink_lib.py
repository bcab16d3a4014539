"""Tests for suitelib/devlink.py on real devlink output in tests/unit/data/devlink/.

The samples come from iproute2 6.1 against netdevsim device 4000 on the
6.12 test kernel (see the README there). No root, no kernel objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suitelib import devlink as dl

DATA = Path(__file__).parent / "data" / "devlink"
DEV = "netdevsim/netdevsim4000"


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def doc(name: str):
    return dl.loads(text(f"{name}.json"))


# --- devices and ports -------------------------------------------------------------


def test_handle_names_the_netdevsim_bus_device():
    assert dl.handle(4000) == DEV


def test_devices_and_reload_failed_flag():
    assert dl.devices(doc("dev_show")) == {DEV: {}}
    assert dl.devices(doc("dev_show_reload_failed")) == {DEV: {"reload_failed": True}}


def test_dev_info_driver_and_versions():
    info = dl.dev_info(doc("dev_info"), DEV)
    assert info == {
        "driver": "netdevsim",
        "versions": {"running": {"fw.mgmt": "10.20.30"}, "stored": {"fw.mgmt": "10.20.30"}},
    }


def test_dev_info_of_a_missing_device_is_an_empty_section():
    missing = doc("dev_info_missing")
    assert missing == {"info": {}}
    with pytest.raises(KeyError, match="not in dev info"):
        dl.dev_info(missing, DEV)


def test_reload_stats_are_flattened_by_kind_action_and_limit():
    stats = dl.reload_stats(doc("dev_show_stats"), DEV)
    assert stats == {
        ("reload", "driver_reinit", "unspecified"): 0,
        ("remote_reload", "driver_reinit", "unspecified"): 0,
        ("remote_reload", "fw_activate", "unspecified"): 0,
        ("remote_reload", "fw_activate", "no_reset"): 0,
    }


def test_reload_actions_performed_and_eswitch_mode():
    assert dl.reload_actions_performed(doc("reload_action")) == ["driver_reinit"]
    assert dl.eswitch_mode(doc("eswitch_show"), DEV) == "legacy"


def test_ports_by_index_with_netdevs():
    ports = dl.ports(doc("port_show"), DEV)
    assert sorted(ports) == [0, 1, 2, 3]
    assert ports[2] == {"type": "eth", "netdev": "eth2", "flavour": "physical", "port": 3, "splittable": False}
    assert dl.port_netdevs(doc("port_show"), DEV) == {0: "eth0", 1: "eth1", 2: "eth2", 3: "eth3"}


def test_ports_of_another_device_are_not_mixed_in():
    assert dl.ports(doc("port_show"), "netdevsim/netdevsim400") == {}  # a prefix of the real handle


def test_vf_ports_in_switchdev_mode():
    ports = dl.ports(doc("port_show_vfs"), DEV)
    vfs = {i: p for i, p in ports.items() if p["flavour"] == "pcivf"}
    assert sorted(vfs) == [128, 129, 130, 131]
    assert vfs[130]["vfnum"] == 2 and vfs[130]["pfnum"] == 0 and vfs[130]["external"] is False


def test_a_missing_section_is_an_error_that_shows_the_answer():
    with pytest.raises(ValueError, match="no 'port' section"):
        dl.ports(doc("dev_show"), DEV)


def test_loads_accepts_empty_output():
    assert dl.loads("") is None and dl.loads("\n") is None


# --- params and resources ----------------------------------------------------------------


def test_params_by_name_and_cmode():
    assert dl.params(doc("param_show"), DEV) == {"max_macs": {"driverinit": 32}, "test1": {"driverinit": True}}
    assert dl.param_types(doc("param_show"), DEV) == {"max_macs": "generic", "test1": "driver-specific"}


def test_resources_are_flattened_to_paths():
    res = dl.resources(doc("resource_show"), DEV)
    assert list(res) == ["IPv4", "IPv4/fib", "IPv4/fib-rules", "IPv6", "IPv6/fib", "IPv6/fib-rules", "nexthops"]
    assert res["IPv4/fib"]["occ"] == 3 and res["IPv4/fib-rules"]["occ"] == 3
    assert "resources" not in res["IPv4"]
    assert all(dl.size_value(r["size"]) is None for r in res.values())


def test_staged_and_applied_resource_sizes():
    staged = dl.resources(doc("resource_show_staged"), DEV)
    assert dl.size_value(staged["IPv4/fib"]["size"]) is None and staged["IPv4/fib"]["size_new"] == 7
    assert staged["IPv4"]["size_valid"] == "true"
    failed = dl.resources(doc("resource_show_reload_failed"), DEV)
    assert failed["IPv4/fib"]["size"] == 7 and dl.size_value(failed["IPv4/fib"]["size_new"]) is None
    assert failed["IPv4"]["size_valid"] == "false"
    assert "occ" not in failed["IPv4/fib"]  # no FIB accounting while the reload has failed


def test_size_value():
    assert dl.size_value("unlimited") is None
    assert dl.size_value(7) == 7


# --- regions ----------------------------------------------------------------------------------


def test_regions_and_snapshot_ids():
    assert dl.regions(doc("region_show_empty"), DEV) == {"dummy": {"size": 32768, "snapshot": [], "max": 16}}
    assert dl.regions(doc("region_show"), DEV)["dummy"]["snapshot"] == [0, 25]
    assert dl.new_snapshot_id(doc("region_new_auto"), DEV, "dummy") == 0


def test_new_snapshot_id_needs_exactly_one_id():
    with pytest.raises(ValueError, match="one new snapshot id"):
        dl.new_snapshot_id(doc("region_show"), DEV, "dummy")


def test_region_dump_keeps_every_repeated_address_and_data_pair():
    raw = text("region_dump.json")
    naive = json.loads(raw)["dump"]
    assert len(naive["data"]) == 256  # plain json keeps only the last line
    chunks = dl.region_chunks(raw)
    assert len(chunks) == 128 and [a for a, _ in chunks] == list(range(0, 32768, 256))
    start, data = dl.region_bytes(raw)
    assert start == 0 and len(data) == 32768
    assert data[-256:] == bytes(naive["data"])


def test_region_reads_agree_with_the_dump_of_the_same_snapshot():
    _, dump = dl.region_bytes(text("region_dump.json"))
    assert dl.region_bytes(text("region_read_128.json")) == (128, dump[128:256])
    start, data = dl.region_bytes(text("region_read_600.json"))  # crosses 256-byte lines
    assert (start, len(data)) == (100, 600) and data == dump[100:700]
    assert len(dl.region_chunks(text("region_read_600.json"))) > 1


def test_region_bytes_rejects_gaps_and_other_answers():
    with pytest.raises(ValueError, match="not contiguous"):
        dl.region_bytes('{"read":{"address":0,"data":[1,2],"address":5,"data":[3]}}')
    with pytest.raises(ValueError, match="not a region"):
        dl.region_bytes(text("region_show.json"))


# --- health --------------------------------------------------------------------------------------


def test_reporters_by_name():
    reporters = dl.reporters(doc("health_show"), DEV)
    assert reporters["empty"] == {"state": "healthy", "error": 0, "recover": 0, "auto_dump": True}
    assert reporters["dummy"]["grace_period"] == 0 and reporters["dummy"]["auto_recover"] is True
    broken = dl.reporters(doc("health_show_dummy"), DEV)["dummy"]
    assert (broken["state"], broken["error"], broken["recover"]) == ("healthy", 1, 1)
    assert "last_dump_date" in broken and "last_dump_time" in broken


def test_dummy_dump_and_diagnose_objects():
    dump = doc("health_dump_dummy")
    assert dump["break_message"] == "foo bar" and len(dump["test_binary"]) == 16
    assert dump["test_nest"] == {"nested_test_bool": False, "nested_test_u8": 0}
    assert doc("health_diagnose_dummy")["recovered_break_message"] == "foo bar"


# --- traps ------------------------------------------------------------------------------------------


def test_traps_with_metadata():
    traps = dl.traps(doc("trap_show_v"), DEV)
    assert len(traps) == 14
    assert traps["fid_miss"] == {
        "type": "exception",
        "generic": False,
        "action": "trap",
        "group": "l2_drops",
        "metadata": ["input_port"],
    }
    assert traps["egress_flow_action_drop"]["metadata"] == ["input_port", "flow_action_cookie"]


def test_trap_group_and_policer_statistics():
    traps = dl.traps(doc("trap_show_s"), DEV)
    assert dl.rx_stats(traps["source_mac_is_multicast"]) == {"bytes": 0, "packets": 0, "dropped": 14}
    groups = dl.trap_groups(doc("trap_group_show_s"), DEV)
    assert "policer" not in groups["l2_drops"] and groups["l3_drops"]["policer"] == 1
    assert dl.rx_stats(groups["acl_drops"]) == {"bytes": 0, "packets": 0}
    policers = dl.trap_policers(doc("trap_policer_show_s"), DEV)
    assert {p: (v["rate"], v["burst"]) for p, v in policers.items()} == {1: (1000, 128), 2: (2000, 256), 3: (3000, 512)}
    assert dl.rx_stats(policers[1]) == {"dropped": 0}
    assert dl.rx_stats({"rate": 1}) == {}


# --- rates ---------------------------------------------------------------------------------------------


def test_rate_objects_leaves_and_nodes():
    rates = dl.rates(doc("rate_show"), DEV)
    assert rates["group1"] == {"type": "node", "tx_share": 1_250_000, "tx_max": 12_500_000}
    assert rates["128"] == {"type": "leaf", "parent": "group1"}
    assert sorted(k for k, v in rates.items() if v["type"] == "leaf") == ["128", "129", "130", "131"]
    assert dl.bytes_to_mbit(rates["group1"]["tx_max"]) == 100
    assert dl.mbit_to_bytes(10) == rates["group1"]["tx_share"]


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, message, driver, kernel",
    [
        ("dev_info_missing", None, None, "No such device"),
        ("region_new_25_again", "The requested snapshot id is already in use", None, "File exists"),
        ("trap_set_unknown", "Device did not register this trap", None, "No such file or directory"),
        (
            "trap_policer_set_injected",
            "User setup the operation to fail for testing purposes",
            "netdevsim",
            "Invalid argument",
        ),
        ("reload_fw_activate", "Requested reload action is not supported by the driver", None, "Operation not supported"),
        ("reload_injected", "User setup the reload to fail for testing purposes", "netdevsim", "Invalid argument"),
        ("rate_set_bad", "TX rate value not in link speed units of 1Mbps", "netdevsim", "Invalid argument"),
        ("flash_missing", "failed to locate the requested firmware file", None, None),
        ("reload_netns_over_fib_limit", "Exceeded number of supported fib entries", "netdevsim", "Operation not permitted"),
    ],
)
def test_parse_error_splits_extack_driver_and_errno(name, message, driver, kernel):
    err = dl.parse_error(text(f"{name}.stderr.txt"))
    assert (err.message, err.driver, err.kernel) == (message, driver, kernel)
    assert err.warnings == () and err.other == ()


def test_parse_error_keeps_warnings_and_iproute2_own_messages():
    warned = dl.parse_error(text("trap_set_nondrop.stderr.txt"))
    assert warned.warnings == ("Cannot change action of non-drop traps. Skipping",)
    assert warned.message is None and warned.kernel is None
    assert dl.parse_error(text("trap_set_bad_action.stderr.txt")).other == ('Unknown trap action "made_up_action"',)
    assert dl.parse_error(text("param_set_runtime.stderr.txt")).other == ("Configuration mode not supported",)


def test_devlink_error_reads_back_as_text():
    err = dl.parse_error(text("reload_injected.stderr.txt"))
    assert str(err) == (
        "Error: netdevsim: User setup the reload to fail for testing purposes; kernel answers: Invalid argument"
    )
    assert str(dl.DevlinkError()) == "(no message)"


# --- flash output and the monitor ----------------------------------------------------------------------------

STEPS = ["Preparing to flash", "Flashing", "Flash select", "Flashing done"]


def test_flash_output_with_and_without_component():
    assert dl.flash_output(text("flash_component.stdout.txt")) == [dl.FlashStatus(s, "fw.mgmt") for s in STEPS]
    assert dl.flash_output(text("flash_plain.stdout.txt")) == [dl.FlashStatus(s) for s in STEPS]
    assert dl.flash_output("\n") == []


def test_monitor_flash_events_begin_progress_end():
    events = dl.flash_events(dl.monitor_events(text("mon_flash.txt")), DEV)
    assert events[0] == dl.FlashEvent("begin", DEV) and events[-1] == dl.FlashEvent("end", DEV)
    status = events[1:-1]
    assert status[0] == dl.FlashEvent("status", DEV, "Preparing to flash", "fw.mgmt", 0, 0)
    progress = [e for e in status if e.message == "Flashing"]
    assert [e.done for e in progress] == list(range(0, 500_001, 1000))
    assert {(e.component, e.total) for e in progress} == {("fw.mgmt", 500_000)}
    assert [(e.message, e.done, e.total) for e in status[-2:]] == [("Flash select", 0, 0), ("Flashing done", 0, 0)]
    assert dl.flash_events(dl.monitor_events(text("mon_flash.txt")), "netdevsim/netdevsim1") == []


@pytest.mark.parametrize(
    "body, message, component, done, total",
    [
        ("msg Flashing done 1000 total 500000", "Flashing", None, 1000, 500000),
        ("msg Flashing done done 0 total 0", "Flashing done", None, 0, 0),
        ("msg Flashing done component fw.mgmt done 0 total 0", "Flashing done", "fw.mgmt", 0, 0),
        ("msg Preparing to flash", "Preparing to flash", None, None, None),
    ],
)
def test_flash_status_bodies(body, message, component, done, total):
    event = dl.MonitorEvent("flash", "status", DEV, body)
    assert dl.flash_events([event]) == [dl.FlashEvent("status", DEV, message, component, done, total)]


def test_monitor_events_of_params_health_regions_and_reload():
    events = dl.monitor_events(text("mon_param_health_region_reload.txt"))
    kinds = [(e.obj, e.cmd) for e in events]
    assert kinds[:4] == [("param", "new"), ("health", "status"), ("health", "status"), ("region", "new")]
    param = events[0]
    assert param.handle == DEV and param.body == "name test1 type driver-specific values: cmode driverinit value false"
    assert events[1].body.startswith("reporter dummy state error error 1 recover 0")
    assert events[2].handle is None and "state healthy error 1 recover 1" in events[2].body  # printed without handle
    assert events[3] == dl.MonitorEvent("region", "new", f"{DEV}/dummy", "snapshot 3")
    assert ("trap", "del") in kinds and ("trap", "new") in kinds and ("port", "del") in kinds
    assert events[-1].obj == "dev" and events[-1].cmd == "new" and "unspecified 1" in events[-1].body


def test_flash_status_that_does_not_parse_is_an_error():
    with pytest.raises(ValueError, match="unparsed flash status"):
        dl.flash_events([dl.MonitorEvent("flash", "status", DEV, "percent 50")])
