"""The console timeline parser (harness/vm/timeline.py) on a captured console."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.vm.timeline import parse_timeline

CONSOLE = (Path(__file__).parent / "data" / "console_timeline.txt").read_text()


def test_milestones_of_a_three_item_run():
    t = parse_timeline(CONSOLE)
    assert t.boot == pytest.approx(6.426142)
    assert t.interpreter == pytest.approx(7.289881 - 6.426142)
    assert t.collection == pytest.approx(12.386830 - 7.289881)
    assert t.first_item_wait == pytest.approx(12.443813 - 12.386830)
    assert t.item_intervals == pytest.approx([12.518131 - 12.443813, 12.571925 - 12.518131])
    assert t.per_item == pytest.approx((12.518131 - 12.443813 + 12.571925 - 12.518131) / 2)
    assert t.final_checks == pytest.approx(19.527498 - 12.588682)
    assert t.shutdown == pytest.approx(19.553067 - 19.527498)


def test_end_markers_behind_progress_dots_are_found():
    # The guest pytest prints its "." progress on the console line that the
    # kernel's end marker then continues.
    assert len(parse_timeline(CONSOLE).ends) == 3


def test_a_guest_that_never_started_its_agent_has_no_spans():
    t = parse_timeline("[    0.000000] Linux version 6.12\n[    5.1] Kernel panic - not syncing\n")
    assert t.boot is None and t.collection is None and t.per_item is None and t.final_checks is None
