"""Where a guest's time went, read from its console (pure).

The kernel stamps every console line with seconds since boot, and the guest
side of the harness writes markers into the kernel log (the bootstrap's
``netharness: guest agent starting``, the agent's ``netharness: guest
ready``, ``netharness: begin/end NODEID`` around each item). virtme-ng-init
prints when it starts and ends the guest command. From those, one VM's life
splits into boot, interpreter start, pytest import and collection, the
items, and the final checks (kmemleak) up to power-down. The benchmark
prints this split; it is also what to read when a run is slow.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

_STAMP = re.compile(r"\[\s*(\d+\.\d+)\]\s(.*)")

SCRIPT_START = "virtme-ng-init: starting script"
AGENT_START = "netharness: guest agent starting"
AGENT_READY = "netharness: guest ready"
ITEM_BEGIN = "netharness: begin "
ITEM_END = "netharness: end "
SCRIPT_EXIT = "virtme-ng-init: script exited"
POWER_DOWN = "reboot: Power down"


@dataclass
class GuestTimeline:
    """Kernel timestamps (seconds since boot) of one guest's milestones."""

    script_start: float | None = None
    agent_start: float | None = None
    agent_ready: float | None = None
    begins: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    script_exit: float | None = None
    power_down: float | None = None

    @staticmethod
    def _span(start: float | None, end: float | None) -> float | None:
        return None if start is None or end is None else end - start

    @property
    def boot(self) -> float | None:
        """Kernel start to the guest command (what bare ``vng -- true`` also pays)."""
        return self.script_start

    @property
    def interpreter(self) -> float | None:
        """Guest command start to the bootstrap's first line: Python's own start."""
        return self._span(self.script_start, self.agent_start)

    @property
    def collection(self) -> float | None:
        """Bootstrap to ready: importing pytest and the plugins, collecting."""
        return self._span(self.agent_start, self.agent_ready)

    @property
    def first_item_wait(self) -> float | None:
        """Ready to the first item's start: the host's first command round trip."""
        return self._span(self.agent_ready, self.begins[0] if self.begins else None)

    @property
    def item_intervals(self) -> list[float]:
        """Start-to-start time of consecutive items."""
        return [b - a for a, b in zip(self.begins, self.begins[1:])]

    @property
    def per_item(self) -> float | None:
        """Median start-to-start interval; for trivial items, the per-item overhead."""
        intervals = self.item_intervals
        return statistics.median(intervals) if intervals else None

    @property
    def final_checks(self) -> float | None:
        """Last item's end to the guest command's exit (kmemleak scans, agent exit)."""
        return self._span(self.ends[-1] if self.ends else None, self.script_exit)

    @property
    def shutdown(self) -> float | None:
        return self._span(self.script_exit, self.power_down)


def parse_timeline(console: str) -> GuestTimeline:
    """The milestones of the first guest in ``console`` (a vng -v console log)."""
    timeline = GuestTimeline()
    for line in console.splitlines():
        match = _STAMP.search(line)
        if match is None:
            continue
        stamp, text = float(match.group(1)), match.group(2)
        if text.startswith(SCRIPT_START) and timeline.script_start is None:
            timeline.script_start = stamp
        elif text.startswith(AGENT_START) and timeline.agent_start is None:
            timeline.agent_start = stamp
        elif text.startswith(AGENT_READY) and timeline.agent_ready is None:
            timeline.agent_ready = stamp
        elif text.startswith(ITEM_BEGIN):
            timeline.begins.append(stamp)
        elif text.startswith(ITEM_END):
            timeline.ends.append(stamp)
        elif text.startswith(SCRIPT_EXIT) and timeline.script_exit is None:
            timeline.script_exit = stamp
        elif text.startswith(POWER_DOWN) and timeline.power_down is None:
            timeline.power_down = stamp
    return timeline
