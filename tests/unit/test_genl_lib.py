"""suitelib/genl.py and psample.py: decoding datagrams as the kernel lays them out."""

from __future__ import annotations

from suitelib.genl import decode
from suitelib.psample import psample_msg, sample_fields

PRID = 30


def encoded(attrs: list[list], msg_type: int = PRID) -> bytes:
    msg = psample_msg()
    msg["cmd"] = 0  # PSAMPLE_CMD_SAMPLE
    msg["version"] = 1
    msg["attrs"] = attrs
    msg["header"]["type"] = msg_type
    msg.encode()
    return bytes(msg.data)


def test_a_sample_decodes_to_its_fields():
    data = encoded([["PSAMPLE_ATTR_IIFINDEX", 1234], ["PSAMPLE_ATTR_OIFINDEX", 4321],
                    ["PSAMPLE_ATTR_SAMPLE_GROUP", 7], ["PSAMPLE_ATTR_DATA", b"\x01\x02\x03"],
                    ["PSAMPLE_ATTR_OUT_TC", 5], ["PSAMPLE_ATTR_LATENCY", 2**40]])
    [sample] = [sample_fields(m) for m in decode(data, PRID, psample_msg)]
    assert sample == {"iifindex": 1234, "oifindex": 4321, "sample_group": 7, "data": b"\x01\x02\x03",
                      "out_tc": 5, "latency": 2**40}


def test_several_messages_in_one_datagram_and_other_families_skipped():
    first = encoded([["PSAMPLE_ATTR_SAMPLE_GROUP", 1]])
    other = encoded([["PSAMPLE_ATTR_SAMPLE_GROUP", 2]], msg_type=PRID + 1)
    last = encoded([["PSAMPLE_ATTR_SAMPLE_GROUP", 3]])
    groups = [sample_fields(m)["sample_group"] for m in decode(first + other + last, PRID, psample_msg)]
    assert groups == [1, 3]


def test_a_truncated_datagram_stops_decoding():
    assert decode(b"\x08\x00\x00\x00", PRID, psample_msg) == []
