"""From a guest outcome to the TestReports the host replays.

Pure apart from pytest's deserialisation hook: the guest's serialised reports
are turned back into TestReport objects, then amended with what the host saw
(kernel issues on the console, a dead or hung VM, a new taint), so that the
test that was running when the kernel misbehaved is the one that fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _pytest.reports import TestReport

from . import console as kconsole
from .machine import ItemOutcome
from .protocol import Done

# Issues after which the kernel cannot be trusted for further tests.
FATAL_KINDS = {"oops", "bug", "panic", "kasan", "soft_lockup", "rcu_stall", "hung_task", "ubsan"}
TAINT_DIE = 1 << 7  # 'D': the kernel died (oops/BUG) recently


def synthetic(item: pytest.Item, message: str, console: str | None = None, when: str = "call") -> TestReport:
    """A failed report for an item whose own reports never came back."""
    sections = [("kernel console (tail)", console)] if console else []
    return TestReport(
        nodeid=item.nodeid, location=item.location, keywords={k: 1 for k in item.keywords},
        outcome="failed", longrepr=message, when=when, sections=sections, duration=0.0, user_properties=[],
    )


def describe_issues(issues: list[kconsole.KernelIssue]) -> str:
    parts = []
    for issue in issues:
        parts.append(f"kernel {issue.kind}: {issue.title}\nfingerprint: {issue.fingerprint}\n{issue.excerpt}")
    return "\n\n".join(parts)


def _blame(reports: list[TestReport], message: str, excerpt: str) -> None:
    """Fail the call report (or the last one) with ``message``.

    A test that already failed keeps its own failure text; the kernel's
    side of the story is added as a report section.
    """
    target = next((r for r in reports if r.when == "call"), reports[-1])
    if target.passed or target.skipped:
        target.outcome = "failed"
        target.longrepr = message
    else:
        target.sections.append(("kernel console", f"{message}\n{excerpt}"))


def split_known(
    item: pytest.Item, issues: list[kconsole.KernelIssue]
) -> tuple[list[kconsole.KernelIssue], list[tuple[kconsole.KernelIssue, str]]]:
    """Split ``issues`` into unknown ones and ones a ``known_kernel_issue`` marker names.

    The marker (``@pytest.mark.known_kernel_issue(PATTERN, reason=...)``, on
    the test, its class or module) declares a bug of the kernel under test
    that the test is known to trigger: PATTERN is a regular expression
    searched in the issue's fingerprint (``lockdep: udp_tunnel_notify_add_rx_port ...``),
    so a different splat in the same test still fails it.
    """
    known_marks = [
        (re.compile(mark.args[0]), mark.kwargs.get("reason", mark.args[0]))
        for mark in item.iter_markers("known_kernel_issue")
    ]
    unknown: list[kconsole.KernelIssue] = []
    known: list[tuple[kconsole.KernelIssue, str]] = []
    for issue in issues:
        reason = next((why for pattern, why in known_marks if pattern.search(issue.fingerprint)), None)
        if reason is None:
            unknown.append(issue)
        else:
            known.append((issue, reason))
    return unknown, known


def _expect_known(reports: list[TestReport], known: list[tuple[kconsole.KernelIssue, str]], where: str) -> None:
    """Turn a passing call into xfail ("known kernel issue: ..."); a failing one keeps its failure.

    xfail rather than pass: the run must show that this kernel still has the
    bug; once a kernel fixes it, the test simply passes.
    """
    reasons = "; ".join(sorted({f"{why} [{issue.fingerprint}]" for issue, why in known}))
    excerpt = describe_issues([issue for issue, _ in known])
    target = next((r for r in reports if r.when == "call"), reports[-1])
    if target.passed:
        target.outcome = "skipped"
        target.wasxfail = f"known kernel issue: {reasons}"  # type: ignore[attr-defined]
    target.sections.append(("known kernel issue", f"{reasons} {where}\n{excerpt}"))


def _tuple_skip_location(report: TestReport) -> TestReport:
    """Give a skip its ``(path, lineno, reason)`` tuple back.

    The reports travel as JSON, which turns that tuple into a list; pytest's
    terminal reporter (-v, -rs) then fails with INTERNALERROR on the first
    test that called pytest.skip() in the guest.
    """
    if report.skipped and isinstance(report.longrepr, list):
        report.longrepr = tuple(report.longrepr)
    return report


def reports_for(item: pytest.Item, config: pytest.Config, outcome: ItemOutcome, console_path: Path) -> list[TestReport]:
    unknown, known = split_known(item, outcome.issues)
    issues_text = describe_issues(outcome.issues)
    where = f"(full console: {console_path})"
    result = outcome.result
    if result is None or (outcome.interrupted and not result.reports):
        if outcome.timed_out:
            message = f"Timeout: no result after {outcome.duration:.0f} s; interrupted (SIGINT), then the VM was killed"
        else:
            message = "the guest VM died while running this test"
        if issues_text:
            message += f"\n\n{issues_text}"
        return [synthetic(item, f"{message}\n{where}", console=outcome.console_tail)]
    if result.error:
        return [synthetic(item, f"guest could not run this test: {result.error}")]

    reports: list[TestReport] = [
        _tuple_skip_location(config.hook.pytest_report_from_serializable(config=config, data=data))
        for data in result.reports
    ]
    if not reports:
        return [synthetic(item, "the guest returned no reports for this test")]
    if outcome.interrupted:
        if not any(r.when == "call" for r in reports):
            reports.append(synthetic(item, f"Timeout after {outcome.duration:.0f} s: interrupted with SIGINT"))
        else:
            _blame(reports, f"Timeout after {outcome.duration:.0f} s: interrupted with SIGINT", outcome.console_tail)
    if unknown:
        unknown_text = describe_issues(unknown)
        _blame(reports, f"kernel reported a problem during this test {where}\n\n{unknown_text}", unknown_text)
    elif known:
        # A known issue explains the taint it leaves, so no taint check.
        _expect_known(reports, known, where)
    else:
        new_taint = result.new_taint
        if new_taint:
            flags = ", ".join(kconsole.parse_taint(new_taint))
            _blame(reports, f"kernel became tainted during this test: {flags} {where}", outcome.console_tail)
    return reports


def needs_fresh_vm(outcome: ItemOutcome) -> bool:
    """Whether the VM must be replaced before the next test.

    After an oops/BUG-class issue the kernel cannot be trusted; after a
    lockdep report lockdep has switched itself off (``debug_locks`` 0), so
    later tests would run without lock checking.
    """
    if any(issue.kind in FATAL_KINDS for issue in outcome.issues):
        return True
    result = outcome.result
    if result is None:
        return False
    return result.lockdep_turned_off or bool(result.taint_after & TAINT_DIE)


def final_check_reports(done: Done | None, console_path: Path) -> list[TestReport]:
    """Failed pseudo-test reports for what the guest's final checks found.

    Leaks cannot be pinned on one test (kmemleak reports them seconds later),
    so they are reported as ``kernel::kmemleak``, failing the run.
    """
    leaks = done.kmemleak if done is not None else None
    if not leaks:
        return []
    issues = [i for i in kconsole.find_issues(leaks) if i.kind == "kmemleak"]
    if not issues and "unreferenced object" not in leaks:
        return []
    message = (
        f"kmemleak reported {max(len(issues), 1)} suspected leak(s) after the tests in this VM "
        f"(console: {console_path})\n\n{leaks[:20000]}"
    )
    return [
        TestReport(
            nodeid="kernel::kmemleak", location=("kernel", None, "kmemleak"), keywords={},
            outcome="failed", longrepr=message, when="call", sections=[], duration=0.0, user_properties=[],
        )
    ]
