"""devlink firmware flash on netdevsim, with status notifications.

netdevsim "flashes" 500000 bytes in 1000-byte chunks, 10 ms apart (about
6 s under TCG), and when debugfs ``fw_update_status`` is on sends: status
"Preparing to flash", one "Flashing" status per chunk with done/total, a
final "Flashing" at 500000/500000, a timeout notice "Flash select", and
"Flashing done" (nsim_dev_flash_update). devlink itself wraps the update in
begin/end notifications. Overwrite sections must be allowed by debugfs
``fw_update_overwrite_mask`` (bit 0 settings, bit 1 identifiers), else the
driver refuses with EOPNOTSUPP. The image must exist for the kernel's
firmware loader; netdevsim ignores its contents.

Reference: devlink.sh fw_flash_test.
"""

from __future__ import annotations

import pytest

from suitelib import devlink as dl

pytestmark = [pytest.mark.topology("devlink-dut"), pytest.mark.requires(tools=["stdbuf"])]

STATUS_LINES = ["Preparing to flash", "Flashing", "Flash select", "Flashing done"]
TOTAL = 500_000
CHUNK = 1000


def flash(nsim, image: str, *extra: str) -> list[dl.FlashStatus]:
    return dl.flash_output(nsim.run("dev", "flash", nsim.handle, "file", image, *extra).stdout)


def flash_done(events: list[dl.MonitorEvent]) -> bool:
    return any(e.obj == "flash" and e.cmd == "end" for e in events)


def test_flash_of_a_component_reports_every_status_step(nsim, firmware_file, monitor):
    assert flash(nsim, firmware_file, "component", "fw.mgmt") == [
        dl.FlashStatus(line, "fw.mgmt") for line in STATUS_LINES
    ]
    events = dl.flash_events(monitor.wait_for(flash_done), nsim.handle)
    assert events[0].kind == "begin" and events[-1].kind == "end"
    status = events[1:-1]
    assert all(e.kind == "status" and e.component == "fw.mgmt" for e in status), status[:3]
    assert status[0].message == "Preparing to flash" and (status[0].done, status[0].total) == (0, 0)
    progress = [e for e in status if e.message == "Flashing"]
    assert [e.done for e in progress] == list(range(0, TOTAL + 1, CHUNK))
    assert {e.total for e in progress} == {TOTAL}
    assert [e.message for e in status[-2:]] == ["Flash select", "Flashing done"]


def test_flash_without_a_component_reports_plain_status(nsim, firmware_file):
    assert flash(nsim, firmware_file) == [dl.FlashStatus(line) for line in STATUS_LINES]


def test_flash_without_status_updates_is_silent_between_begin_and_end(nsim, firmware_file, monitor):
    with nsim.knob("fw_update_status", "N"):
        assert flash(nsim, firmware_file) == []
        events = dl.flash_events(monitor.wait_for(flash_done), nsim.handle)
        assert [e.kind for e in events] == ["begin", "end"]


def test_overwrite_sections_need_the_driver_to_allow_them(nsim, firmware_file):
    def refused(*sections: str) -> None:
        args = [a for s in sections for a in ("overwrite", s)]
        proc = nsim.run("dev", "flash", nsim.handle, "file", firmware_file, *args, check=False)
        # EOPNOTSUPP from the driver; iproute2 6.1 prints no message for it.
        assert proc.returncode != 0, f"flash overwrite {sections} must be refused"
        assert dl.flash_output(proc.stdout) == [], proc.stdout

    assert nsim.read_knob("fw_update_overwrite_mask") == "0"
    refused("settings")
    refused("identifiers")
    with nsim.knob("fw_update_overwrite_mask", 1):  # settings only
        assert flash(nsim, firmware_file, "overwrite", "settings")[-1].message == "Flashing done"
        refused("identifiers")
        refused("settings", "identifiers")
    with nsim.knob("fw_update_overwrite_mask", 3):  # settings and identifiers
        assert flash(nsim, firmware_file, "overwrite", "identifiers", "overwrite", "settings")[-1].message == (
            "Flashing done"
        )


def test_a_missing_image_or_unknown_component_is_refused(nsim, firmware_file):
    err = nsim.fails("dev", "flash", nsim.handle, "file", "netharness-no-such-image.bin")
    assert err.message == "failed to locate the requested firmware file", err
    err = nsim.fails("dev", "flash", nsim.handle, "file", firmware_file, "component", "fw.bogus")
    assert err.message == "selected component is not supported by this device", err
