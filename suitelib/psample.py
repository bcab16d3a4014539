"""The psample generic netlink family: sampled packets and their metadata.

Debian 12 packages no ``psample`` tool (libpsample), which the kernel's
psample.sh uses to print samples; this module declares the family's
attributes (uapi linux/psample.h) on pyroute2's message class and reads the
``packets`` group through suitelib/genl.py.
"""

from __future__ import annotations

import socket
from typing import Any

from pyroute2.netlink import genlmsg

from .genl import GroupListener, fields

FAMILY = "psample"
PACKETS_GROUP = "packets"
PREFIX = "PSAMPLE_ATTR_"


class psample_msg(genlmsg):
    """PSAMPLE_CMD_SAMPLE: one sampled packet. Attribute order is the uapi enum's."""

    prefix = PREFIX
    nla_map = (
        ("PSAMPLE_ATTR_IIFINDEX", "uint16"),
        ("PSAMPLE_ATTR_OIFINDEX", "uint16"),
        ("PSAMPLE_ATTR_ORIGSIZE", "uint32"),
        ("PSAMPLE_ATTR_SAMPLE_GROUP", "uint32"),
        ("PSAMPLE_ATTR_GROUP_SEQ", "uint32"),
        ("PSAMPLE_ATTR_SAMPLE_RATE", "uint32"),
        ("PSAMPLE_ATTR_DATA", "cdata"),
        ("PSAMPLE_ATTR_GROUP_REFCOUNT", "uint32"),
        ("PSAMPLE_ATTR_TUNNEL", "cdata"),
        ("PSAMPLE_ATTR_PAD", "none"),
        ("PSAMPLE_ATTR_OUT_TC", "uint16"),
        ("PSAMPLE_ATTR_OUT_TC_OCC", "uint64"),
        ("PSAMPLE_ATTR_LATENCY", "uint64"),
        ("PSAMPLE_ATTR_TIMESTAMP", "uint64"),
        ("PSAMPLE_ATTR_PROTO", "uint16"),
        ("PSAMPLE_ATTR_USER_COOKIE", "cdata"),
        ("PSAMPLE_ATTR_SAMPLE_PROBABILITY", "flag"),
    )


def sample_fields(msg: genlmsg) -> dict[str, Any]:
    """A sample as a flat dict: ``{"sample_group": 1234, "iifindex": 7, "data": b"...", ...}``."""
    return fields(msg, PREFIX)


def packets_listener(sock: socket.socket, lookup: socket.socket) -> GroupListener[dict[str, Any]]:
    """Samples of the ``packets`` group of the namespace ``sock`` lives in."""
    return GroupListener(sock, lookup, FAMILY, PACKETS_GROUP, psample_msg, sample_fields)
