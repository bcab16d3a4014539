"""Tests for harness.vm.console on console text in tests/unit/data/console/.

Every sample starts with "# source:" (and "# note:") lines saying where the
text comes from; `load` strips them, so line numbers below count from the
first console line. Samples named *_constructed / *_assembled are not
captured text (the 6.12 tree has none for those report types): they follow
the kernel's format strings and say so in their source line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from harness.vm.console import (
    KINDS,
    MAX_EXCERPT_LINES,
    TAINT_FLAGS,
    KernelIssue,
    find_issues,
    parse_taint,
    taint_from_console,
)

DATA = Path(__file__).parent / "data" / "console"
KERNEL_TREE = Path("/root/.cache/netharness/src/linux-source-6.12")
SAMPLES = sorted(p.name for p in DATA.glob("*.txt"))


def load(name: str) -> str:
    """A sample's console text, without its '# source:' / '# note:' header."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith(("# source:", "# note:")):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def summary(text: str) -> list[tuple[str, int, int]]:
    return [(i.kind, i.start_line, i.end_line) for i in find_issues(text)]


# --- samples and their provenance -------------------------------------------


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 20


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_cites_its_source(name: str) -> None:
    first = (DATA / name).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# source: ")
    if "constructed" in name:
        assert "CONSTRUCTED" in first
    elif "assembled" in name:
        assert "ASSEMBLED" in first
    else:
        assert "CONSTRUCTED" not in first and "ASSEMBLED" not in first


# --- what each sample yields -------------------------------------------------

# (sample, [(kind, title start, start_line, end_line), ...])
EXPECTED: list[tuple[str, list[tuple[str, str, int, int]]]] = [
    ("warning_bug_hunting.txt", [("warning", "WARNING: CPU: 1 PID: 28102 at kernel/module.c:1108 module_put", 0, 32)]),
    ("warning_uml_kunit.txt", [("warning", "WARNING: CPU: 0 PID: 0 at kernel/time/clockevents.c:458", 9, 41)]),
    ("oops_null_deref_bug_hunting.txt", [("oops", "BUG: unable to handle kernel NULL pointer dereference", 0, 3)]),
    ("oops_tainted_kernels_doc.txt", [("oops", "BUG: unable to handle kernel NULL pointer dereference", 0, 4)]),
    ("oops_vkms_6.9_a.txt", [("oops", "Oops: 0000 [#1] PREEMPT SMP NOPTI", 0, 47)]),
    ("oops_vkms_6.9_b.txt", [("oops", "Oops: 0000 [#1] PREEMPT SMP NOPTI", 1, 49)]),
    ("oops_vkms_6.10.txt", [("oops", "Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI", 0, 48)]),
    ("kasan_doc.txt", [("kasan", "BUG: KASAN: slab-out-of-bounds in kmalloc_oob_right", 0, 68)]),
    ("ubsan_doc.txt", [("ubsan", "UBSAN: Undefined behaviour in ../include/linux/bitops.h:110:33", 0, 26)]),
    ("kmemleak_doc.txt", [("kmemleak", "unreferenced object 0xffff89862ca702e8 (size 32):", 0, 12)]),
    (
        "kfence_doc.txt",
        [
            ("bug", "BUG: KFENCE: out-of-bounds read in test_out_of_bounds_read", 0, 22),
            ("bug", "BUG: KFENCE: use-after-free read in test_use_after_free_read", 24, 53),
        ],
    ),
    ("lockdep_suspicious_rcu_doc.txt", [("lockdep", "WARNING: suspicious RCU usage", 0, 40)]),
    (
        "lockdep_udp_tunnel_6.12.117.txt",
        [
            ("lockdep", "BUG: sleeping function called from invalid context at ", 1, 49),
            ("lockdep", "[ BUG: Invalid wait context ]", 51, 109),
        ],
    ),
    (
        "rcu_stall_doc.txt",
        [
            ("rcu_stall", "INFO: rcu_sched detected stalls on CPUs/tasks:", 0, 3),
            ("rcu_stall", "INFO: rcu_sched detected expedited stalls on CPUs/tasks:", 5, 5),
        ],
    ),
    ("soft_lockup_msm.txt", [("soft_lockup", "watchdog: BUG: soft lockup - CPU#0 stuck for 26s!", 4, 4)]),
    (
        "panic_uml_kunit.txt",
        [("panic", "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(98,0)", 26, 31)],
    ),
    (
        "lkdtm_warning_vng_assembled.txt",
        [("warning", "WARNING: CPU: 1 PID: 213 at drivers/misc/lkdtm/bugs.c:112 lkdtm_WARNING+0x1d/0x40", 22, 69)],
    ),
    (
        "warn_then_panic_constructed.txt",
        [
            ("warning", "WARNING: CPU: 0 PID: 231 at drivers/misc/lkdtm/bugs.c:117 lkdtm_WARNING_MESSAGE", 1, 41),
            ("panic", "Kernel panic - not syncing: kernel: panic_on_warn set ...", 42, 67),
        ],
    ),
    (
        "bug_lkdtm_constructed.txt",
        [
            ("bug", "kernel BUG at drivers/misc/lkdtm/bugs.c:105!", 1, 55),
            ("panic", "Kernel panic - not syncing: Fatal exception", 56, 58),
        ],
    ),
    ("hung_task_constructed.txt", [("hung_task", "INFO: task ip:412 blocked for more than 122 seconds.", 1, 38)]),
    (
        "lockdep_constructed.txt",
        [
            ("lockdep", "WARNING: possible circular locking dependency detected", 2, 82),
            ("lockdep", "BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585", 84, 108),
        ],
    ),
    (
        "netdev_refcount_constructed.txt",
        [
            ("netdev_refcount", "unregister_netdevice: waiting for veth0 to become free. Usage count = 2", 1, 10),
            ("netdev_refcount", "unregister_netdevice: waiting for veth0 to become free. Usage count = 2", 12, 21),
        ],
    ),
    (
        "kmemleak_debugfs_constructed.txt",
        [
            ("kmemleak", "unreferenced object 0xffff888005f2c980 (size 64):", 0, 14),
            ("kmemleak", "unreferenced object 0xffff888005f2d100 (size 64):", 15, 29),
            ("kmemleak", "unreferenced object 0xffff888006c07a00 (size 512):", 30, 43),
        ],
    ),
    ("rcu_stall_constructed.txt", [("rcu_stall", "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", 0, 35)]),
]

CLEAN = [
    "clean_ktap_kunit.txt",
    "clean_uml_boot_kunit.txt",
    "fault_injection_dump_stack.txt",
    "userspace_checkpatch_pytest.txt",
]


def test_every_sample_has_expectations() -> None:
    assert sorted([name for name, _ in EXPECTED] + CLEAN) == SAMPLES


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_sample_reports(name: str, expected: list[tuple[str, str, int, int]]) -> None:
    issues = find_issues(load(name))
    got = [(i.kind, i.title, i.start_line, i.end_line) for i in issues]
    assert [(k, s, e) for k, _, s, e in got] == [(k, s, e) for k, _, s, e in expected]
    for (_, title, _, _), (_, prefix, _, _) in zip(got, expected):
        assert title.startswith(prefix)


@pytest.mark.parametrize("name", CLEAN)
def test_no_false_positives(name: str) -> None:
    assert find_issues(load(name)) == []


def test_all_kinds_are_covered() -> None:
    seen = {i.kind for name, _ in EXPECTED for i in find_issues(load(name))}
    seen |= {i.kind for i in find_issues(_standalone_ref_tracker())}
    assert seen == set(KINDS)


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_records_are_well_formed(name: str, expected: list) -> None:
    text = load(name)
    lines = text.splitlines()
    for issue in find_issues(text):
        assert issue.kind in KINDS
        assert 0 <= issue.start_line <= issue.end_line < len(lines)
        assert any(line.endswith(issue.title) for line in lines[issue.start_line : issue.end_line + 1])
        excerpt = issue.excerpt.splitlines()
        assert 0 < len(excerpt) <= MAX_EXCERPT_LINES
        assert excerpt[0] == lines[issue.start_line].rstrip()
        assert excerpt[-1] == lines[issue.end_line].rstrip()
        assert issue.fingerprint.startswith(issue.kind + ": ")


def test_issue_is_frozen() -> None:
    issue = find_issues(load("oops_vkms_6.9_a.txt"))[0]
    assert isinstance(issue, KernelIssue)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.kind = "bug"  # type: ignore[misc]


# --- report boundaries ----------------------------------------------------------


def test_warn_starts_at_cut_here_and_ends_at_end_marker() -> None:
    text = load("lkdtm_warning_vng_assembled.txt")
    lines = text.splitlines()
    (issue,) = find_issues(text)
    assert lines[issue.start_line].endswith("------------[ cut here ]------------")
    assert lines[issue.end_line].endswith("---[ end trace 0000000000000000 ]---")
    assert "lkdtm: Performing direct entry WARNING" in lines[issue.start_line - 1]


def test_warn_message_between_cut_here_and_header_is_kept() -> None:
    warning = find_issues(load("warn_then_panic_constructed.txt"))[0]
    assert warning.excerpt.splitlines()[1].endswith("Warning message trigger count: 1")


def test_interleaved_user_space_lines_are_left_out_of_the_excerpt() -> None:
    text = load("lkdtm_warning_vng_assembled.txt")
    lines = text.splitlines()
    (issue,) = find_issues(text)
    inside = lines[issue.start_line : issue.end_line + 1]
    assert "tests/integration/test_crash.py::test_lkdtm_warning " in inside
    assert "test_lkdtm_warning" not in issue.excerpt
    assert len(issue.excerpt.splitlines()) == len(inside) - 1
    # timestamps stay in the excerpt
    assert "[    6.120874] WARNING: CPU: 1 PID: 213 at drivers/misc/lkdtm/bugs.c:112" in issue.excerpt


def test_warn_followed_by_panic_yields_both_in_order() -> None:
    text = load("warn_then_panic_constructed.txt")
    lines = text.splitlines()
    warning, panic = find_issues(text)
    assert (warning.kind, panic.kind) == ("warning", "panic")
    # panic_on_warn: the WARN has no end marker, it stops where the panic starts
    assert lines[warning.end_line].endswith("</TASK>")
    assert warning.end_line + 1 == panic.start_line
    assert lines[panic.end_line].endswith("---[ end Kernel panic - not syncing: kernel: panic_on_warn set ... ]---")
    assert panic.fingerprint != warning.fingerprint


def test_kernel_bug_and_its_oops_line_are_one_report_then_the_panic() -> None:
    text = load("bug_lkdtm_constructed.txt")
    lines = text.splitlines()
    bug, panic = find_issues(text)
    assert bug.kind == "bug"
    assert "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI" in bug.excerpt
    # x86 reprints RIP/registers after the end marker: they belong to the report
    end_marker = next(k for k, line in enumerate(lines) if "---[ end trace" in line)
    assert bug.end_line > end_marker
    assert lines[bug.end_line].split("] ", 1)[1].startswith("CR2:")
    assert panic.title == "Kernel panic - not syncing: Fatal exception"


def test_null_deref_header_continues_into_its_oops_line() -> None:
    (issue,) = find_issues(load("oops_null_deref_bug_hunting.txt"))
    assert issue.excerpt.splitlines()[-1] == "Oops: 0002 [#1] PREEMPT SMP"


def test_report_without_end_marker_ends_after_its_trace() -> None:
    text = load("hung_task_constructed.txt")
    lines = text.splitlines()
    (issue,) = find_issues(text)
    assert lines[issue.end_line].endswith("=============================================")
    assert "IPv6" not in issue.excerpt
    text = load("rcu_stall_constructed.txt")
    (issue,) = find_issues(text)
    assert text.splitlines()[issue.end_line].endswith("</TASK>")


def test_lockdep_report_starts_at_its_rule_line() -> None:
    text = load("lockdep_constructed.txt")
    circular, sleeping = find_issues(text)
    assert text.splitlines()[circular.start_line].endswith("=" * 54)
    assert text.splitlines()[circular.start_line + 1].endswith(circular.title)
    assert text.splitlines()[sleeping.start_line].endswith(sleeping.title)  # no rule line before it


def test_long_report_excerpt_keeps_head_and_tail() -> None:
    circular = find_issues(load("lockdep_constructed.txt"))[0]
    excerpt = circular.excerpt.splitlines()
    assert circular.end_line - circular.start_line + 1 > MAX_EXCERPT_LINES
    assert len(excerpt) == MAX_EXCERPT_LINES
    assert any(re.fullmatch(r"\[\.\.\. \d+ lines omitted \.\.\.\]", line) for line in excerpt)
    assert excerpt[0].endswith("=" * 54)
    assert excerpt[-1].endswith("</TASK>")


# --- false positives --------------------------------------------------------------


def test_user_space_warning_and_bug_words_are_not_reports() -> None:
    text = load("userspace_checkpatch_pytest.txt")
    assert "WARNING: Argument 'a' is not used" in text
    assert "BUG: this is a test printing the word BUG" in text
    assert "AssertionError: BUG: expected 4 netdevsim ports" in text
    assert find_issues(text) == []


def test_lockdep_header_needs_the_kernel_rule_line() -> None:
    text = load("lockdep_suspicious_rcu_doc.txt")
    without_rule = "\n".join(line for line in text.splitlines() if not line.startswith("====="))
    assert find_issues(without_rule) == []


def test_kernel_lines_quoted_mid_line_are_not_reports() -> None:
    # pytest or a test quoting a kernel line is not the kernel reporting it
    text = load("lkdtm_warning_vng_assembled.txt")
    quoted = "\n".join("E       assert " + repr(line) for line in text.splitlines())
    assert find_issues(quoted) == []


def test_fault_injection_stack_dump_is_not_a_crash() -> None:
    text = load("fault_injection_dump_stack.txt")
    assert "Call Trace:" in text
    assert find_issues(text) == []


# --- fingerprints -----------------------------------------------------------------


def _perturb(text: str) -> str:
    """The same console from another run: other timestamps, addresses, PIDs, CPUs."""

    def shift(m: re.Match[str]) -> str:
        return "[%12.6f]" % (float(m.group(1)) + 1234.5)

    def other_hex(m: re.Match[str]) -> str:
        table = str.maketrans("0123456789abcdef", "123456789abcdef0")
        return m.group(0).translate(table)

    text = re.sub(r"^\[\s*(\d+\.\d+)\]", shift, text, flags=re.M)
    text = re.sub(r"(?<=0x)[0-9a-f]+|\b[0-9a-f]{8,16}\b", other_hex, text)
    text = re.sub(r"PID: \d+", "PID: 4242", text)
    text = re.sub(r"CPU: \d+", "CPU: 3", text)
    return text


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_fingerprint_stable_under_other_addresses_and_timestamps(name: str, expected: list) -> None:
    text = load(name)
    other = _perturb(text)
    assert other != text
    before = [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(text)]
    after = [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(other)]
    assert before == after


def test_same_bug_in_two_real_runs_has_one_fingerprint() -> None:
    a = find_issues(load("oops_vkms_6.9_a.txt"))[0]
    b = find_issues(load("oops_vkms_6.9_b.txt"))[0]
    c = find_issues(load("oops_vkms_6.10.txt"))[0]
    assert a.excerpt != b.excerpt  # other PID, CPU, addresses
    assert a.fingerprint == b.fingerprint == c.fingerprint == "oops: compose_active_planes vkms_composer_worker"


@pytest.mark.parametrize(
    ("name", "index", "fingerprint"),
    [
        (
            "lkdtm_warning_vng_assembled.txt",
            0,
            "warning: lkdtm_WARNING lkdtm_do_action direct_entry full_proxy_write vfs_write",
        ),
        (
            "kasan_doc.txt",
            0,
            "kasan: kmalloc_oob_right kmalloc_tests_init do_one_initcall do_init_module load_module",
        ),
        (
            "warning_bug_hunting.txt",
            0,
            "warning: module_put gp8psk_fe_set_frontend symbol_put_addr dvb_usb_adapter_frontend_exit dvb_usb_exit",
        ),
        (
            "hung_task_constructed.txt",
            0,
            "hung_task: rtnetlink_rcv_msg netlink_rcv_skb netlink_unicast netlink_sendmsg ____sys_sendmsg",
        ),
        ("lockdep_constructed.txt", 1, "lockdep: nsim_dev_trap_report nsim_dev_trap_report_work"),
        ("oops_tainted_kernels_doc.txt", 0, "oops: my_oops_init"),
        (
            "netdev_refcount_constructed.txt",
            0,
            "netdev_refcount: dst_init dst_alloc ip6_dst_alloc ip6_rt_cache_alloc ip6_pol_route",
        ),
        ("kfence_doc.txt", 0, "bug: test_out_of_bounds_read kunit_try_run_case kunit_generic_run_threadfn_adapter"),
    ],
)
def test_fingerprint_values(name: str, index: int, fingerprint: str) -> None:
    assert find_issues(load(name))[index].fingerprint == fingerprint


def test_fingerprint_falls_back_to_normalised_title() -> None:
    (lockup,) = find_issues(load("soft_lockup_msm.txt"))
    assert lockup.fingerprint == "soft_lockup: watchdog: BUG: soft lockup - CPU#N stuck for Ns! [kworker/uN:N:N]"
    (panic,) = find_issues(load("panic_uml_kunit.txt"))
    assert panic.fingerprint == "panic: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(N,N)"


GENERIC_FRAMES = (
    "entry_SYSCALL_64_after_hwframe",
    "do_syscall_64",
    "__x64_sys_",
    "ret_from_fork",
    "kthread",
    "worker_thread",
    "process_one_work",
    "dump_stack",
    "__warn",
    "report_bug",
    "handle_bug",
    "exc_invalid_op",
    "panic",
    "__lock_acquire",
    "__schedule",
)


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_fingerprint_has_no_offsets_modules_or_generic_frames(name: str, expected: list) -> None:
    for issue in find_issues(load(name)):
        names = issue.fingerprint.split(": ", 1)[1]
        if ":" in names:
            continue  # no call trace: the fingerprint is the normalised title
        assert "+0x" not in names and "[" not in names and "? " not in names
        assert not any(part.startswith(GENERIC_FRAMES) for part in names.split())
        assert ".constprop" not in names and ".cold" not in names


def test_different_call_traces_give_different_fingerprints() -> None:
    fingerprints = [
        find_issues(load("warning_bug_hunting.txt"))[0].fingerprint,
        find_issues(load("warning_uml_kunit.txt"))[0].fingerprint,
        find_issues(load("lkdtm_warning_vng_assembled.txt"))[0].fingerprint,
        find_issues(load("warn_then_panic_constructed.txt"))[0].fingerprint,
        *(i.fingerprint for i in find_issues(load("lockdep_constructed.txt"))),
        *(i.fingerprint for i in find_issues(load("kfence_doc.txt"))),
    ]
    assert len(set(fingerprints)) == len(fingerprints)


# --- kmemleak, ref_tracker, netdev refcounts ------------------------------------------


def test_kmemleak_one_record_per_object() -> None:
    issues = find_issues(load("kmemleak_debugfs_constructed.txt"))
    assert [i.kind for i in issues] == ["kmemleak"] * 3
    expected = "kmemleak: nsim_fib4_rt_create nsim_fib4_rt_insert nsim_fib_event_work"
    assert issues[0].fingerprint == issues[1].fingerprint == expected
    assert issues[2].fingerprint != issues[0].fingerprint
    assert issues[0].excerpt.splitlines()[-1].strip() == "ret_from_fork_asm+0x1a/0x30"


def test_kmemleak_objects_printed_on_the_console() -> None:
    # kmemleak.verbose / the scan thread print the same lines via pr_warn with
    # the "kmemleak: " prefix and printk timestamps
    debugfs = load("kmemleak_debugfs_constructed.txt")
    console = "\n".join(
        "[  %3d.%06d] kmemleak: %s" % (600 + k // 1000, k % 1000, line) for k, line in enumerate(debugfs.splitlines())
    )
    console += "\n[  700.000001] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready\n"
    want = [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(debugfs)]
    got = [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(console)]
    assert got == want


def test_kmemleak_console_summary_line() -> None:
    # format string of mm/kmemleak.c kmemleak_scan() (pr_fmt "kmemleak: ")
    text = (
        "[  612.004001] kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n"
        "[  612.100000] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready\n"
    )
    (issue,) = find_issues(text)
    assert (issue.kind, issue.start_line, issue.end_line) == ("kmemleak", 0, 0)
    assert issue.fingerprint == "kmemleak: kmemleak: N new suspected memory leaks (see /sys/kernel/debug/kmemleak)"


def test_netdev_refcount_repeats_share_a_fingerprint_and_keep_the_tracker() -> None:
    first, second = find_issues(load("netdev_refcount_constructed.txt"))
    assert first.fingerprint == second.fingerprint
    assert "ref_tracker: netdev@ffff88800c8e45e8 has 1/1 users at" in first.excerpt


def _standalone_ref_tracker() -> str:
    """The netdev sample's tracker reports without the unregister_netdevice lines."""
    lines = load("netdev_refcount_constructed.txt").splitlines()
    return "\n".join(line for line in lines if "unregister_netdevice" not in line)


def test_ref_tracker_report_on_its_own() -> None:
    issues = find_issues(_standalone_ref_tracker())
    assert [i.kind for i in issues] == ["ref_tracker", "ref_tracker"]
    assert issues[0].fingerprint == "ref_tracker: dst_init dst_alloc ip6_dst_alloc ip6_rt_cache_alloc ip6_pol_route"
    assert len(issues[0].excerpt.splitlines()) == 9


# --- console formats ------------------------------------------------------------------


def test_crlf_and_printk_caller_ids() -> None:
    text = load("lkdtm_warning_vng_assembled.txt")
    want = [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(text)]
    crlf = text.replace("\n", "\r\n")
    assert [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(crlf)] == want
    caller = re.sub(r"^(\[\s*\d+\.\d+\])", r"\1[  T213]", text, flags=re.M)
    assert [(i.kind, i.fingerprint, i.start_line, i.end_line) for i in find_issues(caller)] == want


def test_ubsan_in_the_6_12_cut_here_form() -> None:
    # lib/ubsan.c in 6.12: CUT_HERE before "UBSAN:", "---[ end trace ]---" after the stack
    lines = load("ubsan_doc.txt").splitlines()
    lines[0] = "------------[ cut here ]------------"
    lines[-1] = "---[ end trace ]---"
    text = "\n".join(lines + ["random: crng init done"])
    (issue,) = find_issues(text)
    assert (issue.kind, issue.start_line, issue.end_line) == ("ubsan", 0, len(lines) - 1)


def test_empty_console() -> None:
    assert find_issues("") == []
    assert taint_from_console("") is None


# --- taint ------------------------------------------------------------------------------


def test_parse_taint() -> None:
    assert parse_taint(0) == []
    assert parse_taint(512) == ["W: kernel issued warning"]
    # the example of Documentation/admin-guide/tainted-kernels.rst: 4609 = P, W, O
    assert parse_taint(4609) == [
        "P: proprietary module was loaded",
        "W: kernel issued warning",
        'O: externally-built ("out-of-tree") module was loaded',
    ]
    assert parse_taint(1 << 18) == ["N: an in-kernel test has been run"]
    assert parse_taint((1 << 19) | 128) == ["D: kernel died recently, i.e. there was an OOPS or BUG", "bit 19: unknown"]
    with pytest.raises(ValueError):
        parse_taint(-1)


@pytest.mark.skipif(not KERNEL_TREE.is_dir(), reason="Linux 6.12 source tree not unpacked")
def test_taint_table_matches_the_kernel_documentation() -> None:
    doc = (KERNEL_TREE / "Documentation/admin-guide/tainted-kernels.rst").read_text()
    rows = re.findall(r"^\s*(\d+)\s+_?/?([A-Z])/?([A-Z])?\s+(\d+)\s+(.+)$", doc, flags=re.M)
    table = {int(bit): (b or a, reason.strip()) for bit, a, b, _, reason in rows}
    assert table == {bit: (letter, reason) for bit, letter, reason in TAINT_FLAGS}


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("warning_bug_hunting.txt", "P        WC O"),
        ("oops_tainted_kernels_doc.txt", "P        W  O"),
        ("kfence_doc.txt", "G    B"),
        ("lockdep_constructed.txt", "G        W"),
        ("lkdtm_warning_vng_assembled.txt", None),
        ("panic_uml_kunit.txt", None),
        ("clean_ktap_kunit.txt", None),
    ],
)
def test_taint_from_console(name: str, flags: str | None) -> None:
    assert taint_from_console(load(name)) == flags


# --- whole consoles ---------------------------------------------------------------------


def test_all_samples_in_one_console_give_the_same_reports() -> None:
    # no report swallows or borrows lines from its neighbours
    texts = [load(name) for name in SAMPLES]
    separate = [(i.kind, i.fingerprint) for text in texts for i in find_issues(text)]
    together = [(i.kind, i.fingerprint) for i in find_issues("".join(texts))]
    assert together == separate


def test_user_bug_line_just_before_a_kernel_report_is_not_a_report() -> None:
    # the test's "BUG: ..." line must not borrow the kernel's "CPU: ... Comm:" line
    text = load("userspace_checkpatch_pytest.txt") + load("warn_then_panic_constructed.txt")
    assert [i.kind for i in find_issues(text)] == ["warning", "panic"]


def test_workqueue_lockup() -> None:
    # format strings of kernel/workqueue.c (wq_watchdog_timer_fn, show_all_workqueues)
    text = (
        "[  301.000001] BUG: workqueue lockup - pool cpus=1 node=0 flags=0x0 nice=0 stuck for 42s!\n"
        "[  301.000002] Showing busy workqueues and worker pools:\n"
        "[  301.000003] workqueue events: flags=0x0\n"
        "[  301.000004]   pwq 2: cpus=1 node=0 flags=0x0 nice=0 active=1 refcnt=2\n"
        "[  301.000005]     in-flight: 31:nsim_dev_trap_report_work\n"
        "[  302.000000] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready\n"
    )
    (issue,) = find_issues(text)
    assert (issue.kind, issue.start_line, issue.end_line) == ("bug", 0, 4)
    assert issue.fingerprint == "bug: BUG: workqueue lockup - pool cpus=N node=N flags=0x? nice=N stuck for Ns!"
