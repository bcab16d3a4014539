"""Pure parsers for ethtool 6.1 output and netdevsim offload debugfs values.

ethtool 6.1 has ``--json`` only for a few commands (pause, FEC, module,
tunnels...); features (-k), rings (-g), channels (-l) and coalescing (-c)
print text, which these functions turn into dicts. They are tested in
tests/unit/test_ethtool_lib.py on captured real output.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_AVAILABLE = None  # "n/a" in ethtool's text output


@dataclass(frozen=True)
class Feature:
    on: bool
    fixed: bool
    requested: bool | None = None  # "[requested on]" after a refused change


def parse_features(text: str) -> dict[str, Feature]:
    """``ethtool -k`` (or the "Actual changes" part of ``-K``): name -> state."""
    out: dict[str, Feature] = {}
    for line in text.splitlines():
        line = line.strip()
        if ":" not in line or line.startswith(("Features for", "Actual changes")):
            continue
        name, _, rest = line.partition(":")
        words = rest.split()
        if not words or words[0] not in ("on", "off"):
            continue
        tail = " ".join(words[1:])
        requested = None
        if "[requested on]" in tail:
            requested = True
        elif "[requested off]" in tail:
            requested = False
        out[name.strip()] = Feature(on=words[0] == "on", fixed="[fixed]" in tail, requested=requested)
    return out


def _value(text: str) -> int | str | None:
    text = text.strip()
    if text == "n/a":
        return NOT_AVAILABLE
    try:
        return int(text)
    except ValueError:
        return text


def parse_max_current(text: str) -> tuple[dict[str, int | str | None], dict[str, int | str | None]]:
    """``ethtool -g`` / ``-l``: (pre-set maximums, current settings), keys lower-case
    with '-' for spaces ("RX Jumbo" -> "rx-jumbo"), "n/a" -> None."""
    maxima: dict[str, int | str | None] = {}
    current: dict[str, int | str | None] = {}
    target: dict[str, int | str | None] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Pre-set maximums"):
            target = maxima
        elif stripped.startswith("Current hardware settings"):
            target = current
        elif target is not None and ":" in stripped:
            key, _, value = stripped.partition(":")
            target[key.strip().lower().replace(" ", "-")] = _value(value)
    return maxima, current


def parse_coalesce(text: str) -> dict[str, int | str | bool | None]:
    """``ethtool -c``: key -> value; "Adaptive RX: on  TX: off" -> adaptive-rx/adaptive-tx."""
    out: dict[str, int | str | bool | None] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Adaptive RX:"):
            words = stripped.replace(":", " ").split()  # Adaptive RX on TX off
            out["adaptive-rx"] = words[2] == "on"
            out["adaptive-tx"] = words[4] == "on"
        elif ":" in stripped and not stripped.startswith("Coalesce parameters"):
            key, _, value = stripped.partition(":")
            if value.strip():
                out[key.strip()] = _value(value)
    return out


# ethtool -c prints rx-frames-low as "rx-frame-low" (and the other three alike).
COALESCE_PRINTED_AS = {
    "rx-frames-low": "rx-frame-low",
    "tx-frames-low": "tx-frame-low",
    "rx-frames-high": "rx-frame-high",
    "tx-frames-high": "tx-frame-high",
}

# Every integer parameter `ethtool -C` sets that netdevsim accepts (ETHTOOL_COALESCE_ALL_PARAMS).
COALESCE_INT_PARAMS = (
    "rx-usecs", "rx-frames", "rx-usecs-irq", "rx-frames-irq",
    "tx-usecs", "tx-frames", "tx-usecs-irq", "tx-frames-irq",
    "stats-block-usecs", "pkt-rate-low", "rx-usecs-low", "rx-frames-low",
    "tx-usecs-low", "tx-frames-low", "pkt-rate-high", "rx-usecs-high",
    "rx-frames-high", "tx-usecs-high", "tx-frames-high", "sample-interval",
)


def fec_modes(doc: list[dict]) -> tuple[list[str], list[str]]:
    """``ethtool --json --show-fec``: (configured encodings, active encodings)."""
    entry = doc[0]
    return list(entry.get("config") or []), list(entry.get("active") or [])


def pause_state(doc: list[dict]) -> dict:
    """``ethtool [-I] --json -a``: the one device's object; use it for ``statistics`` only.

    Debian 12's ethtool 6.1 prints every boolean of ``--json -a`` as true
    (its show_bool_val() hands print_bool() the attribute's pointer, not its
    value), so ``autonegotiate``/``rx``/``tx`` come from :func:`pause_flags`.
    """
    if not doc:
        raise ValueError("ethtool printed no pause object (pause not supported?)")
    return doc[0]


_PAUSE_KEYS = {"Autonegotiate": "autonegotiate", "RX": "rx", "TX": "tx"}


def pause_flags(text: str) -> dict[str, bool]:
    """``ethtool -a DEV`` (text): {"autonegotiate", "rx", "tx"} as booleans."""
    flags: dict[str, bool] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _PAUSE_KEYS and value.strip() in ("on", "off"):
            flags[_PAUSE_KEYS[key.strip()]] = value.strip() == "on"
    if set(flags) != set(_PAUSE_KEYS.values()):
        raise ValueError(f"ethtool -a output without autonegotiate/RX/TX lines:\n{text}")
    return flags


# --- netdevsim UDP tunnel port tables ------------------------------------------------------

UDP_TUNNEL_TYPES = {"vxlan": 1, "geneve": 2, "vxlan-gpe": 4}


def udp_table_entry(port: int, kind: str) -> int:
    """How netdevsim stores one offloaded port: ``port << 16 | type bit``."""
    return port << 16 | UDP_TUNNEL_TYPES[kind]


def parse_udp_table(text: str) -> list[tuple[int, int]]:
    """A netdevsim ``udp_ports/tableN`` debugfs file (u32 array) -> [(port, type bit)],
    0 entries (free slots) as (0, 0)."""
    return [(int(v) >> 16, int(v) & 0xFFFF) for v in text.split()]


def offloaded_ports(text: str) -> set[tuple[int, int]]:
    """The non-empty entries of a table, as a set (slot order is the NIC's business)."""
    return {e for e in parse_udp_table(text) if e != (0, 0)}


def count_children(tc_qdisc_json: list[dict], root_handle: str) -> int:
    """Qdiscs below the root ``root_handle`` (e.g. "100:") in ``tc -j qdisc show dev X``."""
    return sum(1 for q in tc_qdisc_json if q.get("handle") != root_handle and q.get("root") is not True)
