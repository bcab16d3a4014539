"""harness.vm.protocol: every message survives the channel, and a malformed one is refused by name."""

from __future__ import annotations

import json

import pytest

from harness.vm.channel import Channel
from harness.vm.protocol import (
    Done,
    Exit,
    ItemResult,
    ProtocolError,
    Ready,
    RunItem,
    command_from_json,
)


def roundtrip(message):
    return json.loads(json.dumps(message.to_json()))


@pytest.mark.parametrize(
    "message",
    [
        Ready(nodeids=("tests/a.py::t",), errors=("tests/b.py: boom",), pid=7),
        ItemResult(nodeid="t", reports=({"when": "call"},), interrupted=True, duration=1.5,
                   taint_before=1, taint_after=513, lockdep_before=True, lockdep_after=False),
        ItemResult(nodeid="t", error="not collected in the guest"),
        Done(tainted=512, kmemleak="unreferenced object 0x1", interrupted="t", exit=4),
    ],
)
def test_guest_messages_roundtrip(message):
    assert type(message).from_json(roundtrip(message)) == message


@pytest.mark.parametrize("command", [RunItem("t", next="u"), RunItem("t"), Exit(kmemleak=True)])
def test_commands_roundtrip(command):
    assert command_from_json(roundtrip(command)) == command


def test_result_properties():
    result = ItemResult("t", taint_before=0b0101, taint_after=0b1101, lockdep_before=True, lockdep_after=False)
    assert result.new_taint == 0b1000 and result.lockdep_turned_off
    assert not ItemResult("t", lockdep_before=None, lockdep_after=None).lockdep_turned_off


@pytest.mark.parametrize(
    ("cls", "data", "complaint"),
    [
        (ItemResult, {"reports": []}, "field 'nodeid' missing"),
        (ItemResult, {"nodeid": "t", "taint_after": "513"}, "'taint_after' is str, expected int"),
        (ItemResult, {"nodeid": "t", "taint_after": True}, "'taint_after' is a boolean"),
        (ItemResult, {"nodeid": "t", "reports": ["x"]}, "'reports' must hold objects"),
        (ItemResult, {"nodeid": "t", "lockdep_after": 0}, "'lockdep_after' is int, expected bool or null"),
        (Ready, {"nodeids": [1]}, "'nodeids' must hold strings"),
        (Ready, [], "not a JSON object"),
        (Done, {"kmemleak": 3}, "'kmemleak' is int"),
    ],
)
def test_malformed_messages_are_refused_naming_the_field(cls, data, complaint):
    with pytest.raises(ProtocolError, match=complaint):
        cls.from_json(data)


def test_unknown_commands_are_refused():
    with pytest.raises(ProtocolError, match="unknown op 'reboot'"):
        command_from_json({"op": "reboot"})
    with pytest.raises(ProtocolError, match="'op' missing"):
        command_from_json({"nodeid": "t"})


def test_channel_carries_typed_messages(tmp_path):
    channel = Channel(tmp_path)
    channel.prepare()
    assert channel.read_result(1) is None and channel.read_ready() is None and channel.read_done() is None
    channel.send_command(1, RunItem("t", next=None))
    assert channel.wait_for_command(1, timeout=1, interval=0.01) == RunItem("t")
    channel.send_result(1, ItemResult("t", duration=2.0))
    assert channel.read_result(1) == ItemResult("t", duration=2.0)
    channel.res_path(2).write_text("{not json")
    with pytest.raises(ProtocolError, match="not JSON"):
        channel.read_result(2)
    assert channel.wait_for(channel.read_done, timeout=0.05, interval=0.01) is None
