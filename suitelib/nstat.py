"""SNMP/MIB counters (``nstat``) of one network namespace.

``nstat -jasz``: JSON, absolute values (ignore history), do not update the
history file (which lives in /tmp and is shared by every namespace, so
updating it from tests would corrupt it for others), zeros included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

NSTAT_ARGV = ("nstat", "-jasz")


def parse_nstat_json(text: str) -> dict[str, int]:
    """Counter name -> value from ``nstat -j`` output (``{"kernel": {...}}``)."""
    data = json.loads(text)
    return {name: int(value) for name, value in data["kernel"].items()}


def counters(node: Any, prefix: str = "") -> dict[str, int]:
    """Counters of ``node``'s namespace whose names start with ``prefix``."""
    values = parse_nstat_json(node.run(list(NSTAT_ARGV)).stdout)
    return {k: v for k, v in values.items() if k.startswith(prefix)}


def delta(before: Mapping[str, int], after: Mapping[str, int], names: Iterable[str] | None = None) -> dict[str, int]:
    """``after - before`` per counter; a counter missing on one side counts as 0.

    With ``names`` the result holds exactly those names (zero included), so a
    test can assert that a counter stayed at 0 and fail loudly if it moved.
    """
    keys = list(names) if names is not None else sorted(set(before) | set(after))
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys}


def nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}
