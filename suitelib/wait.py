"""Bounded polling: no fixed sleeps, no unbounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.01) -> T:
    """Call ``probe`` until ``done(value)`` holds or ``timeout`` seconds pass.

    Returns the last value either way, so the caller asserts on it and the
    failure message shows what was seen last. ``probe`` runs at least once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
