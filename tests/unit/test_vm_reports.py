"""Report replay: guest reports come back as TestReports, amended with what
the host saw on the console. Uses pytester to get real items and reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.vm import console as kconsole
from harness.vm.machine import ItemOutcome
from harness.vm.protocol import Done, ItemResult
from harness.vm.reports import final_check_reports, needs_fresh_vm, reports_for

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data" / "console"


def sample(name: str) -> str:
    lines = (DATA / name).read_text().splitlines()
    return "\n".join(line for line in lines if not line.startswith("# "))


def serialized(pytester: pytest.Pytester, source: str) -> tuple[pytest.Item, pytest.Config, list[dict]]:
    """Run one test for real and return its item, config and serialised reports."""
    item = pytester.getitem(source)
    reports = []
    item.config.pluginmanager.register(
        type("Collect", (), {"pytest_runtest_logreport": lambda self, report: reports.append(report)})()
    )
    item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
    data = [item.config.hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports]
    return item, item.config, data


def outcome(nodeid: str, data, issues=(), **kw) -> ItemOutcome:
    extra = kw.pop("result_extra", {})
    result = None if data is None else ItemResult(nodeid=nodeid, reports=tuple(data), **extra)
    return ItemOutcome(nodeid=nodeid, result=result, issues=list(issues), **kw)


def by_when(reports):
    return {r.when: r for r in reports}


def test_clean_pass_replays_unchanged(pytester):
    item, config, data = serialized(pytester, "def test_func(): pass")
    reps = reports_for(item, config, outcome(item.nodeid, data), Path("/c.log"))
    assert [(r.when, r.outcome) for r in reps] == [("setup", "passed"), ("call", "passed"), ("teardown", "passed")]
    assert reps[1].nodeid == item.nodeid


def test_guest_failure_text_survives_the_round_trip(pytester):
    item, config, data = serialized(pytester, "def test_func():\n    assert 1 + 1 == 3\n")
    call = by_when(reports_for(item, config, outcome(item.nodeid, data), Path("/c.log")))["call"]
    assert call.failed and "assert (1 + 1) == 3" in call.longreprtext


def test_kernel_warning_fails_a_passing_test_with_excerpt_and_fingerprint(pytester):
    item, config, data = serialized(pytester, "def test_func(): pass")
    issues = kconsole.find_issues(sample("lkdtm_warning_vng_assembled.txt"))
    assert issues and issues[0].kind == "warning"
    reps = reports_for(item, config, outcome(item.nodeid, data, issues), Path("/c.log"))
    call = by_when(reps)["call"]
    assert call.failed
    assert "kernel warning" in call.longreprtext and "fingerprint: " in call.longreprtext
    assert by_when(reps)["setup"].passed  # only the call is blamed


def test_kernel_issue_keeps_the_tests_own_failure_and_adds_a_section(pytester):
    item, config, data = serialized(pytester, "def test_func():\n    assert False, 'own'\n")
    issues = kconsole.find_issues(sample("lkdtm_warning_vng_assembled.txt"))
    call = by_when(reports_for(item, config, outcome(item.nodeid, data, issues), Path("/c.log")))["call"]
    assert "own" in call.longreprtext
    assert any(title == "kernel console" and "kernel warning" in text for title, text in call.sections)


def test_dead_vm_gives_one_failed_report_with_the_panic(pytester):
    item, config, _ = serialized(pytester, "def test_func(): pass")
    issues = kconsole.find_issues(sample("warn_then_panic_constructed.txt"))
    reps = reports_for(item, config, outcome(item.nodeid, None, issues, vm_died=True, console_tail="tail"), Path("/c.log"))
    assert len(reps) == 1 and reps[0].failed
    assert "died" in reps[0].longreprtext and "kernel panic" in reps[0].longreprtext


def test_hung_guest_is_reported_as_timeout(pytester):
    item, config, _ = serialized(pytester, "def test_func(): pass")
    reps = reports_for(item, config, outcome(item.nodeid, None, timed_out=True, interrupted=True, duration=42), Path("/c.log"))
    assert reps[0].failed and reps[0].longreprtext.startswith("Timeout")
    assert "VM was killed" in reps[0].longreprtext


def test_new_taint_without_console_report_still_fails(pytester):
    item, config, data = serialized(pytester, "def test_func(): pass")
    out = outcome(item.nodeid, data, result_extra={"taint_before": 0, "taint_after": 1 << 9})
    call = by_when(reports_for(item, config, out, Path("/c.log")))["call"]
    assert call.failed and "tainted" in call.longreprtext and "W" in call.longreprtext


def test_old_taint_does_not_fail_later_tests(pytester):
    item, config, data = serialized(pytester, "def test_func(): pass")
    out = outcome(item.nodeid, data, result_extra={"taint_before": 1 << 9, "taint_after": 1 << 9})
    assert by_when(reports_for(item, config, out, Path("/c.log")))["call"].passed


def test_which_issues_need_a_fresh_vm():
    warn = kconsole.find_issues(sample("lkdtm_warning_vng_assembled.txt"))
    panic = kconsole.find_issues(sample("warn_then_panic_constructed.txt"))
    assert not needs_fresh_vm(ItemOutcome(nodeid="x", result=ItemResult("x"), issues=warn))
    assert needs_fresh_vm(ItemOutcome(nodeid="x", result=ItemResult("x"), issues=panic))
    assert needs_fresh_vm(ItemOutcome(nodeid="x", result=ItemResult("x", taint_after=1 << 7), issues=[]))


def test_kmemleak_after_the_run_is_a_failed_pseudo_test():
    leaks = sample("kmemleak_debugfs_constructed.txt")
    reps = final_check_reports(Done(kmemleak=leaks), Path("/c.log"))
    assert len(reps) == 1 and reps[0].failed and reps[0].nodeid == "kernel::kmemleak"
    assert "3 suspected leak" in reps[0].longreprtext
    assert final_check_reports(Done(kmemleak=""), Path("/c.log")) == []
    assert final_check_reports(Done(), Path("/c.log")) == []
    assert final_check_reports(None, Path("/c.log")) == []


# --- known kernel issues and lockdep switching itself off ----------------------------------

UDP_TUNNEL_PATTERN = r"udp_tunnel_notify_(add|del)_rx_port"


def udp_tunnel_issues():
    issues = kconsole.find_issues(sample("lockdep_udp_tunnel_6.12.117.txt"))
    assert [i.kind for i in issues] == ["lockdep", "lockdep"]
    return issues


def test_known_kernel_issue_turns_a_passing_test_into_xfail(pytester):
    item, config, data = serialized(
        pytester,
        "import pytest\n"
        f"@pytest.mark.known_kernel_issue({UDP_TUNNEL_PATTERN!r}, reason='6.12.117 vxlan sock_lock')\n"
        "def test_func(): pass\n",
    )
    call = by_when(reports_for(item, config, outcome(item.nodeid, data, udp_tunnel_issues()), Path("/c.log")))["call"]
    assert call.skipped and "known kernel issue: 6.12.117 vxlan sock_lock" in call.wasxfail
    assert any(title == "known kernel issue" and "Invalid wait context" in text for title, text in call.sections)


def test_known_kernel_issue_marker_does_not_excuse_another_splat(pytester):
    item, config, data = serialized(
        pytester,
        "import pytest\n"
        "@pytest.mark.known_kernel_issue('some_other_function', reason='other')\n"
        "def test_func(): pass\n",
    )
    call = by_when(reports_for(item, config, outcome(item.nodeid, data, udp_tunnel_issues()), Path("/c.log")))["call"]
    assert call.failed and "kernel lockdep" in call.longreprtext


def test_known_kernel_issue_keeps_the_tests_own_failure(pytester):
    item, config, data = serialized(
        pytester,
        "import pytest\n"
        f"@pytest.mark.known_kernel_issue({UDP_TUNNEL_PATTERN!r}, reason='r')\n"
        "def test_func():\n    assert False, 'own'\n",
    )
    call = by_when(reports_for(item, config, outcome(item.nodeid, data, udp_tunnel_issues()), Path("/c.log")))["call"]
    assert call.failed and "own" in call.longreprtext and not hasattr(call, "wasxfail")


def test_vm_is_replaced_when_lockdep_switched_itself_off():
    def fresh(before, after):
        return needs_fresh_vm(
            ItemOutcome(nodeid="x", result=ItemResult("x", lockdep_before=before, lockdep_after=after), issues=[])
        )

    assert fresh(True, False)
    assert not fresh(True, True)
    assert not fresh(None, None)  # no lockdep in this kernel
    assert not fresh(False, False)  # already off before the test: replacing would not help this test


def test_a_skip_in_the_guest_keeps_its_location_tuple_through_json(pytester):
    import json

    item, config, data = serialized(pytester, "import pytest\ndef test_func():\n    pytest.skip('no bridge')\n")
    through_json = json.loads(json.dumps(data))
    call = by_when(reports_for(item, config, outcome(item.nodeid, through_json), Path("/c.log")))["call"]
    assert call.skipped and isinstance(call.longrepr, tuple) and call.longrepr[2] == "Skipped: no bridge"
