"""devlink health reporters on netdevsim.

``empty``: dump and diagnose only (no recover op), so it has no grace
period or auto-recover settings. ``dummy``: recover, dump, diagnose; an
error is reported by writing a message to debugfs ``health/break_health``;
``health/fail_recover`` makes recovery fail; ``health/binary_len`` sets the
size of the binary blob in dumps. With auto-recover on, an error within the
grace period after the last recovery is not recovered: devlink_health_report
returns ECANCELED, which is what the debugfs write then answers.

Reference: devlink.sh empty_reporter_test, dummy_reporter_test;
drivers/net/netdevsim/health.c; net/devlink/health.c.
"""

from __future__ import annotations

import errno

import pytest

pytestmark = pytest.mark.topology("devlink-dut")

BREAK_MSG = "foo bar"
DUMMY_FIELDS = {"test_bool": True, "test_u8": 1, "test_u32": 3, "test_u64": 4, "test_string": "somestring"}


def counts(nsim, name: str = "dummy") -> tuple[str, int, int]:
    r = nsim.reporter(name)
    return r["state"], r["error"], r["recover"]


def break_health(nsim, message: str = BREAK_MSG) -> int:
    """Report an error to the dummy reporter; the errno the write answered (0: ok)."""
    return nsim.knob_errno("health/break_health", message)


def set_reporter(nsim, *settings: str) -> None:
    nsim.run("health", "set", nsim.handle, "reporter", "dummy", *settings)


def check_dummy_fields(doc: dict, binary_len: int = 16) -> None:
    for key, value in DUMMY_FIELDS.items():
        assert doc[key] == value, (key, doc)
    assert len(doc["test_binary"]) == binary_len
    assert doc["test_nest"] == {"nested_test_bool": False, "nested_test_u8": 0}


def test_reporters_and_their_initial_state(nsim):
    reporters = nsim.reporters()
    assert set(reporters) == {"empty", "dummy"}
    empty = reporters["empty"]
    assert (empty["state"], empty["error"], empty["recover"]) == ("healthy", 0, 0)
    assert "grace_period" not in empty and "auto_recover" not in empty  # no recover op
    dummy = reporters["dummy"]
    assert (dummy["state"], dummy["error"], dummy["recover"]) == ("healthy", 0, 0)
    assert dummy["grace_period"] == 0 and dummy["auto_recover"] is True and dummy["auto_dump"] is True


def test_empty_reporter_diagnoses_dumps_and_recovers_nothing(nsim):
    assert nsim.json("health", "diagnose", nsim.handle, "reporter", "empty") == {}
    assert nsim.json("health", "dump", "show", nsim.handle, "reporter", "empty") == {}
    nsim.run("health", "recover", nsim.handle, "reporter", "empty")  # healthy: nothing to do
    nsim.run("health", "dump", "clear", nsim.handle, "reporter", "empty")
    assert counts(nsim, "empty") == ("healthy", 0, 0)


@pytest.mark.parametrize("setting", [("grace_period", "10"), ("auto_recover", "false")])
def test_empty_reporter_refuses_recovery_settings(nsim, setting):
    err = nsim.fails("health", "set", nsim.handle, "reporter", "empty", *setting)
    assert err.kernel == "Operation not supported", err


def test_an_unknown_reporter_is_refused(nsim):
    err = nsim.fails("health", "show", nsim.handle, "reporter", "no_such_reporter")
    assert err.kernel == "Invalid argument", err
    err = nsim.fails("health", "recover", nsim.handle, "reporter", "no_such_reporter")
    assert err.kernel == "Invalid argument", err


def test_error_without_auto_recover_is_dumped_and_recovered_by_hand(nsim):
    set_reporter(nsim, "auto_recover", "false")
    assert nsim.reporter("dummy")["auto_recover"] is False
    assert break_health(nsim) == 0
    assert counts(nsim) == ("error", 1, 0)

    dump = nsim.json("health", "dump", "show", nsim.handle, "reporter", "dummy")
    assert dump["break_message"] == BREAK_MSG  # stored by auto_dump at the error
    check_dummy_fields(dump)
    assert "last_dump_date" in nsim.reporter("dummy")
    nsim.run("health", "dump", "clear", nsim.handle, "reporter", "dummy")
    assert "break_message" not in nsim.json("health", "dump", "show", nsim.handle, "reporter", "dummy")

    nsim.run("health", "recover", nsim.handle, "reporter", "dummy")
    assert counts(nsim) == ("healthy", 1, 1)


def test_error_with_auto_recover_is_recovered_at_once(nsim):
    assert break_health(nsim) == 0
    assert counts(nsim) == ("healthy", 1, 1)
    diagnose = nsim.json("health", "diagnose", nsim.handle, "reporter", "dummy")
    assert diagnose["recovered_break_message"] == BREAK_MSG
    check_dummy_fields(diagnose)


def test_an_error_within_the_grace_period_is_not_auto_recovered(nsim):
    assert break_health(nsim) == 0  # recovered: starts the grace period clock
    assert counts(nsim) == ("healthy", 1, 1)
    set_reporter(nsim, "grace_period", "600000")  # 10 minutes: no race under TCG
    assert nsim.reporter("dummy")["grace_period"] == 600000

    assert break_health(nsim) == errno.ECANCELED
    assert counts(nsim) == ("error", 2, 1)
    nsim.run("health", "recover", nsim.handle, "reporter", "dummy")  # by hand still works
    assert counts(nsim) == ("healthy", 2, 2)

    set_reporter(nsim, "grace_period", "0")
    assert break_health(nsim) == 0
    assert counts(nsim) == ("healthy", 3, 3)


def test_injected_recovery_failure_is_reported(nsim):
    with nsim.knob("health/fail_recover", "Y"):
        assert break_health(nsim) == errno.EINVAL  # auto-recovery failed
        assert counts(nsim) == ("error", 1, 0)
        err = nsim.fails("health", "recover", nsim.handle, "reporter", "dummy")
        assert err.message == "User setup the recover to fail for testing purposes", err
        assert err.driver == "netdevsim" and err.kernel == "Invalid argument", err
        assert counts(nsim) == ("error", 1, 0)
    nsim.run("health", "recover", nsim.handle, "reporter", "dummy")
    assert counts(nsim) == ("healthy", 1, 1)


def test_dump_carries_a_binary_blob_of_the_configured_length(nsim):
    with nsim.knob("health/binary_len", 8192):
        nsim.run("health", "dump", "clear", nsim.handle, "reporter", "dummy")
        dump = nsim.json("health", "dump", "show", nsim.handle, "reporter", "dummy")
        check_dummy_fields(dump, binary_len=8192)
        nsim.run("health", "dump", "clear", nsim.handle, "reporter", "dummy")
