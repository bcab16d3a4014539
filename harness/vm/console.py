"""Kernel console text -> crash records.

A pure function in the spirit of NIPA's crash.py: the harness captures the
guest console always (virtme-ng's exit code and stdout are not trusted), and
this module turns that text into :class:`KernelIssue` records that the plugin
can pin on the test that was running. Nothing here does I/O.

How a report is recognised:

* A *header* line starts a report (``WARNING: CPU: 0 PID: 1 at ...``,
  ``BUG: KASAN: ...``, ``Kernel panic - not syncing: ...``, ...). Headers are
  matched on the line with its printk timestamp removed, anchored at the start
  of the line, in the exact form the kernel prints, so user-space text such as
  a test printing ``WARNING: foo`` or pytest output containing ``BUG`` is not
  a report. Loose forms (a bare ``BUG: ...``) additionally need a kernel
  stack-dump line (``CPU: N PID: N Comm:``, ``Call Trace:``) shortly after.
* The report starts at the ``------------[ cut here ]------------`` or
  ``=====`` line the kernel prints before some headers.
* It ends at its end marker (``---[ end trace ... ]---``, ``---[ end Kernel
  panic ... ]---``, the closing ``=====`` of KASAN/KFENCE/old UBSAN), at the
  next header that is not part of the same report (a panic after a WARN with
  panic_on_warn, which never prints its end marker), or, for reports without
  an end marker (lockdep, hung task, stalls), when the lines stop looking like
  a kernel report after the call trace.
* When the kernel lines carry timestamps, lines without one inside a report
  are user-space output interleaved on the same console: they are skipped and
  left out of the excerpt.

The fingerprint is stable across runs (no addresses, offsets, PIDs or
timestamps): the kind plus the first few meaningful function names, so the
same bug seen twice groups together and retries can be compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "KINDS",
    "TAINT_FLAGS",
    "KernelIssue",
    "find_issues",
    "parse_taint",
    "taint_from_console",
]

KINDS: tuple[str, ...] = (
    "oops",
    "bug",
    "warning",
    "kasan",
    "lockdep",
    "hung_task",
    "rcu_stall",
    "soft_lockup",
    "netdev_refcount",
    "ref_tracker",
    "kmemleak",
    "panic",
    "ubsan",
)

#: Frames kept in a fingerprint.
FINGERPRINT_FRAMES = 5
#: Excerpts longer than this keep their head and tail.
MAX_EXCERPT_LINES = 80
#: A report never spans more lines than this (a flood must not swallow the log).
MAX_REPORT_LINES = 1000
#: Unrecognised lines tolerated in a row inside a report before it is closed.
MAX_UNKNOWN_RUN = 40
#: Unrecognised lines tolerated after the call trace while waiting for an end marker.
MAX_TAIL_UNKNOWN = 10


@dataclass(frozen=True)
class KernelIssue:
    """One kernel report found in console text.

    ``start_line`` and ``end_line`` are 0-based, inclusive indices into
    ``console.splitlines()``; ``excerpt`` keeps the original lines (with their
    timestamps) minus interleaved user-space lines.
    """

    kind: str
    title: str
    excerpt: str
    fingerprint: str
    start_line: int
    end_line: int


# --- line prefixes --------------------------------------------------------

# "<4>" syslog level, "[   12.345678]" timestamp, optional "[    T1]" caller id.
_PREFIX_RE = re.compile(r"^(?:<\d{1,2}>)?\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?\s?")
_SYSLOG_LEVEL_RE = re.compile(r"^<\d{1,2}>")


@dataclass(frozen=True)
class _Line:
    raw: str
    rest: str  # after the timestamp prefix, indentation kept
    body: str  # rest stripped: what patterns match against
    stamped: bool


def _split(console: str) -> list[_Line]:
    """Split console text into lines with the printk prefix removed."""
    out = []
    for raw in console.splitlines():
        raw = raw.rstrip("\r")
        m = _PREFIX_RE.match(raw)
        if m:
            rest = raw[m.end():]
        else:
            rest = _SYSLOG_LEVEL_RE.sub("", raw)
        out.append(_Line(raw=raw, rest=rest, body=rest.strip(), stamped=bool(m)))
    return out


# --- headers --------------------------------------------------------------

_MARKER = "marker"  # ends at an end marker (tolerant until then)
_TRACE = "trace"  # no end marker: ends when lines stop looking like a report
_INDENT = "indent"  # header plus indented continuation lines


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    shape: str
    after_rule_line: bool = False  # must follow a "=====" line (lockdep)
    corroborate: bool = False  # needs a stack-dump line soon after
    oops_line: bool = False  # "Oops: ... [#1]": may continue a BUG: report


def _rule(kind: str, pattern: str, shape: str, **kw: bool) -> _Rule:
    return _Rule(kind, re.compile(pattern), shape, **kw)


_LOCKDEP_WARNINGS = (
    r"possible circular locking dependency detected"
    r"|possible recursive locking detected"
    r"|inconsistent lock state"
    r"|possible irq lock inversion dependency detected"
    r"|\S+-safe -> \S+-unsafe lock order detected"
    r"|bad unlock balance detected!"
    r"|bad contention detected!"
    r"|held lock freed!"
    r"|\S+/-?\d+ still has locks held!"
    r"|lock held when returning to user space!"
    r"|suspicious RCU usage"
    r"|chain_key collision"
    r"|Nested lock was not taken"
)

# Order matters: the first match wins, specific forms before generic ones.
_RULES: tuple[_Rule, ...] = (
    _rule("panic", r"^Kernel panic - not syncing: ", _MARKER),
    _rule("kasan", r"^BUG: KASAN: ", _MARKER),
    _rule("bug", r"^BUG: K(?:FENCE|MSAN|CSAN): ", _MARKER),
    _rule("ubsan", r"^UBSAN: ", _MARKER),
    _rule("soft_lockup", r"^(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck for \d+s!", _TRACE),
    _rule("bug", r"^(?:watchdog: )?Watchdog detected hard LOCKUP on cpu \d+", _TRACE),
    _rule("bug", r"^BUG: workqueue lockup - pool", _TRACE),
    _rule("lockdep", r"^BUG: sleeping function called from invalid context", _TRACE),
    _rule("lockdep", r"^WARNING: (?:" + _LOCKDEP_WARNINGS + r")", _TRACE, after_rule_line=True),
    _rule("lockdep", r"^\[ BUG: [^\]]+ \]$", _TRACE, after_rule_line=True),
    _rule("warning", r"^WARNING: CPU: \d+ PID: \d+ at ", _MARKER),
    _rule("bug", r"^kernel BUG at \S+!", _MARKER),
    _rule("oops", r"^BUG: (?:kernel NULL pointer dereference|unable to handle )", _MARKER),
    _rule(
        "oops",
        r"^(?:Oops|Internal error|general protection fault|invalid opcode|stack segment)\b.*\[#\d+\]",
        _MARKER,
        oops_line=True,
    ),
    _rule("oops", r"^Unable to handle kernel \S.* at virtual address ", _MARKER),
    _rule("hung_task", r"^INFO: task .+:\d+ blocked for more than \d+ seconds\.", _TRACE),
    _rule(
        "rcu_stall",
        r"^(?:rcu: )?INFO: [\w-]+ (?:detected stalls on CPUs/tasks|self-detected stall on CPU"
        r"|detected expedited stalls on CPUs/tasks|detected stalls on tasks"
        r"|detected stall, but suppressed)",
        _TRACE,
    ),
    _rule(
        "netdev_refcount",
        r"^unregister_netdevice: waiting for \S+ to become free\. Usage count = -?\d+",
        _INDENT,
    ),
    _rule("ref_tracker", r"^ref_tracker: \S+@\S+ has \d+/\d+ users at", _INDENT),
    _rule("ref_tracker", r"^ref_tracker: reference already released", _INDENT),
    _rule("kmemleak", r"^(?:kmemleak: )?unreferenced object 0x[0-9a-f]+ \(size \d+\):", _INDENT),
    _rule("kmemleak", r"^kmemleak: \d+ new suspected memory leaks", _INDENT),
    _rule("bug", r"^BUG: \S", _MARKER, corroborate=True),
)

# Cheap first test: every header starts with one of these.
_HEADER_HINT_RE = re.compile(
    r"^(?:Kernel panic|BUG: |UBSAN: |watchdog: |Watchdog |WARNING: |\[ BUG: |kernel BUG |Oops|Internal error"
    r"|general protection|invalid opcode|stack segment|Unable to handle|INFO: |rcu: INFO: "
    r"|unregister_netdevice: |ref_tracker: |kmemleak: |unreferenced object )"
)
_CUT_HERE_RE = re.compile(r"^-+\[ cut here \]-+$")
_RULE_LINE_RE = re.compile(r"^={20,}$")
_END_TRACE_RE = re.compile(r"---\[ end trace(?: [0-9a-f]+)? \]---")
_END_PANIC_RE = re.compile(r"---\[ end Kernel panic - not syncing")
_CALL_TRACE_RE = re.compile(r"^Call [Tt]race:")
_CORROBORATION_RE = re.compile(
    r"^(?:CPU: \d+ (?:UID: \d+ )?PID: \d+ Comm:|Call [Tt]race:|Pid: \d+, comm:|Hardware name:)"
)
_CORROBORATION_WINDOW = 20
_CUT_HERE_LOOKBACK = 6
_RULE_LINE_LOOKBACK = 2

# --- report-shaped lines --------------------------------------------------

_FUNC = r"[A-Za-z_.$][\w.$]*"
_FRAME_RE = re.compile(
    r"^(?:\[<[0-9a-fx]+>\]\s*)?(?P<unreliable>\?\s+)?(?:\[<[0-9a-fx]+>\]\s*)?"
    r"(?P<func>" + _FUNC + r")\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?"
    r"(?:\s+\[[^\]]*\])?(?:\s+\S+:\d+(?::\d+)?)?(?:\s+\(inline\))?$"
)
_RAW_FRAME_RE = re.compile(r"^(?:\[<[0-9a-fx]+>\]\s*)?(?:\?\s+)?0x[0-9a-f]+$")
_STACK_MARKER_RE = re.compile(r"^<(?:/?[A-Z#]{2,7})>")
_REGISTER_RE = re.compile(
    r"^(?:RIP|EIP|IP|RSP|ESP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d{1,2}|EAX|EBX|ECX|EDX|ESI|EDI|EBP"
    r"|DS|ES|FS|GS|SS|CS|CR\d|DR\d|PKRU|Code|EFLAGS|ORIG_RAX|pc|lr|sp|pstate|x\d{1,2})\s*:"
)
_HEX_WORDS_RE = re.compile(r"^(?:[0-9a-f]{8,16}\s+){2,}[0-9a-f]{8,16}$")
_REPORT_LINE_RE = re.compile(
    r"^(?:CPU: ?\d+|Hardware name:|Modules linked in:|Workqueue:|Call [Tt]race:|Stack:"
    r"|task:\S*\s+state:|stack backtrace:|Pid: ?\d+, comm:|Tainted:|Not tainted"
    r"|irq event stamp:|(?:hard|soft)irqs last|Kernel Offset:|Rebooting in"
    r"|Showing (?:all locks held|busy workqueues)|workqueue \S+: flags=|pool \d+: cpus="
    r"|\d+ locks? held by|no locks held by|#\d+:"
    r"|other info that might help|the existing dependency chain|-> #\d+|Chain exists of:"
    r"|Possible (?:unsafe|interrupt unsafe) locking scenario|\*\*\* DEADLOCK \*\*\*"
    r"|but task is already holding|which lock already depends|and the lock dependency"
    r"|the dependencies between|the shortest dependencies|\S+/\d+ is trying to (?:acquire|release)"
    r"|\S+/\d+ just changed the state|\S+/\d+ has acquired|\S+/\d+ is exiting"
    r"|in_atomic\(\):|preempt_count:|RCU nest depth:|Preemption disabled at:"
    r"|\(detected by|Sending NMI|NMI backtrace for cpu|Task dump for CPU|rcu: "
    r"|\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\"|Future hung task reports"
    r"|[0-9a-f]{8,16} \(|\S+ #\d+ (?:Not tainted|Tainted:)"
    r"|-{8,}$|={8,}$)"
)


def _is_trace_line(body: str) -> bool:
    """A call-trace frame, stack section marker, register or raw stack word line."""
    return bool(
        _FRAME_RE.match(body)
        or _RAW_FRAME_RE.match(body)
        or _STACK_MARKER_RE.match(body)
        or _REGISTER_RE.match(body)
        or _HEX_WORDS_RE.match(body)
    )


def _is_report_line(line: _Line) -> bool:
    """Does this line look like part of a kernel report (not ordinary log text)?"""
    return bool(
        line.rest[:1] in (" ", "\t")
        or _is_trace_line(line.body)
        or _REPORT_LINE_RE.match(line.body)
    )


# --- scanning ---------------------------------------------------------------


def _is_foreign(line: _Line, stamped: bool) -> bool:
    """A non-timestamped line inside a timestamped report is user-space output."""
    return stamped and not line.stamped and bool(line.body)


def _match_rule(lines: list[_Line], i: int) -> _Rule | None:
    """The header rule line ``i`` starts, if any."""
    body = lines[i].body
    if not body or not _HEADER_HINT_RE.match(body):
        return None
    for rule in _RULES:
        if not rule.pattern.match(body):
            continue
        if rule.after_rule_line and not _follows_rule_line(lines, i):
            continue
        if rule.corroborate and not _corroborated(lines, i):
            continue
        return rule
    return None


def _content_before(lines: list[_Line], i: int, floor: int, count: int) -> list[int]:
    """Indices of up to ``count`` non-blank, non-foreign lines before ``i``, nearest first."""
    stamped = lines[i].stamped
    out: list[int] = []
    j = i - 1
    while j > floor and len(out) < count:
        if lines[j].body and not _is_foreign(lines[j], stamped):
            out.append(j)
        j -= 1
    return out


def _follows_rule_line(lines: list[_Line], i: int) -> bool:
    return any(_RULE_LINE_RE.match(lines[j].body) for j in _content_before(lines, i, -1, _RULE_LINE_LOOKBACK))


def _corroborated(lines: list[_Line], i: int) -> bool:
    """Does a stack dump follow header ``i`` before anything else starts?

    Only lines printed the same way (both with or both without timestamps)
    count, and the search stops at the next report, so a test printing
    "BUG: ..." just before a real kernel report does not borrow its dump.
    """
    stamped = lines[i].stamped
    for line in lines[i + 1 : i + 1 + _CORROBORATION_WINDOW]:
        if not line.body or line.stamped != stamped:
            continue
        if _CORROBORATION_RE.match(line.body):
            return True
        if _starts_report(line.body):
            return False
    return False


def _starts_report(body: str) -> bool:
    """A header, cut-here or '=====' line: the start of some report."""
    if _CUT_HERE_RE.match(body) or _RULE_LINE_RE.match(body):
        return True
    return bool(_HEADER_HINT_RE.match(body)) and any(rule.pattern.match(body) for rule in _RULES)


def _report_start(lines: list[_Line], i: int, floor: int) -> int:
    """Where the report with header ``i`` starts: its '=====' or 'cut here' line."""
    for j in _content_before(lines, i, floor, _RULE_LINE_LOOKBACK):
        if _RULE_LINE_RE.match(lines[j].body):
            return j
    for j in range(i - 1, max(floor, i - 1 - _CUT_HERE_LOOKBACK), -1):
        if _CUT_HERE_RE.match(lines[j].body):
            return j
    return i


def _subsystem_prefix(body: str) -> str:
    for prefix in ("kmemleak: ", "ref_tracker: "):
        if body.startswith(prefix):
            return prefix
    return ""


def _without_subsystem_prefix(body: str) -> str:
    """kmemleak's console lines carry "kmemleak: " before the debugfs text."""
    if body.startswith("kmemleak: "):
        return body[len("kmemleak: "):].strip()
    return body


@dataclass
class _Block:
    rule: _Rule
    header: int
    start: int
    end: int
    saw_oops_line: bool


def _is_continuation(block: _Block, rule: _Rule) -> bool:
    """Is a header matching ``rule`` part of the report already open rather than a new one?"""
    kind = block.rule.kind
    if rule.oops_line and kind in ("oops", "bug") and not block.saw_oops_line:
        return True  # "BUG: kernel NULL pointer dereference" / "kernel BUG at" -> "Oops: ..."
    if kind == "netdev_refcount" and rule.kind == "ref_tracker":
        return True  # the tracker lists who still holds the device
    return False


def _indent_continues(line: _Line, header_body: str) -> bool:
    prefix = _subsystem_prefix(line.body)
    rest = line.rest.lstrip()[len(prefix):] if prefix else line.rest
    if rest[:1] in (" ", "\t") or _is_trace_line(line.body):
        return True
    return prefix == "ref_tracker: " and header_body.startswith(prefix)


def _end_marker(lines: list[_Line], j: int, rule: _Rule, closes_on_rule: bool) -> int | None:
    """If line ``j`` ends a report of this rule, the report's last line; else None."""
    body = lines[j].body
    if closes_on_rule and _RULE_LINE_RE.match(body):
        return j
    if rule.kind == "panic":
        return j if _END_PANIC_RE.search(body) else None
    if _END_TRACE_RE.search(body):
        if rule.kind in ("oops", "bug"):
            return _register_summary_end(lines, j, lines[j].stamped)
        return j
    return None


def _collect(lines: list[_Line], h: int, rule: _Rule, floor: int) -> _Block:
    """Grow the report whose header is line ``h`` and return its extent.

    Blank and interleaved user-space lines are skipped. Report-shaped lines
    (trace frames, registers, indented text, known report phrases) extend
    the report; other lines extend it only if report lines follow them, and
    too many of them in a row end it. After the call trace, a report
    without an end marker ends at its first unrecognised line; one waiting
    for its end marker tolerates a few.
    """
    stamped = lines[h].stamped
    start = _report_start(lines, h, floor)
    closes_on_rule = rule.shape == _MARKER and bool(_RULE_LINE_RE.match(lines[start].body))
    block = _Block(rule, h, start, h, rule.oops_line)
    trace = "none"  # none -> in -> done
    unknown_run = 0
    tail_unknown = 0
    limit = min(len(lines), h + MAX_REPORT_LINES)
    j = h + 1
    while j < limit:
        line = lines[j]
        body = line.body
        if not body or _is_foreign(line, stamped):
            j += 1
            continue
        if rule.shape == _MARKER:
            end = _end_marker(lines, j, rule, closes_on_rule)
            if end is not None:
                block.end = end
                return block
        other = _match_rule(lines, j)
        if other is not None:
            if _is_continuation(block, other):
                block.saw_oops_line = block.saw_oops_line or other.oops_line
                block.end = j
                unknown_run = 0
                j += 1
                continue
            new_start = _report_start(lines, j, h)
            block.end = min(block.end, _last_content_before(lines, new_start, h, stamped))
            return block
        if rule.shape == _INDENT:
            if not _indent_continues(line, lines[h].body):
                return block
            block.end = j
            j += 1
            continue
        if _CALL_TRACE_RE.match(body):
            trace = "in"
        elif trace == "in":
            if body.startswith("</TASK>"):
                trace = "done"
            elif not _is_trace_line(body):
                trace = "done"
        if _is_report_line(line):
            block.end = j
            unknown_run = 0
        elif trace == "done" and not closes_on_rule:
            if rule.shape == _TRACE:
                return block
            tail_unknown += 1
            if tail_unknown > MAX_TAIL_UNKNOWN:
                return block
        else:
            # Unrecognised text (a WARN's message, KASAN's object description)
            # belongs to the report only if report lines follow it.
            unknown_run += 1
            if unknown_run > MAX_UNKNOWN_RUN:
                return block
        j += 1
    return block


def _last_content_before(lines: list[_Line], i: int, floor: int, stamped: bool) -> int:
    """The last kernel line before ``i`` (not below ``floor``): where a report cut short ends."""
    j = i - 1
    while j > floor and (not lines[j].body or _is_foreign(lines[j], stamped)):
        j -= 1
    return max(j, floor)


def _register_summary_end(lines: list[_Line], j: int, stamped: bool) -> int:
    """x86 reprints RIP/Code/registers after an oops's end marker: keep them."""
    end = j
    k = j + 1
    while k < len(lines):
        line = lines[k]
        if not line.body or _is_foreign(line, stamped):
            k += 1
            continue
        if not _REGISTER_RE.match(line.body):
            break
        end = k
        k += 1
    return end


# --- fingerprints -------------------------------------------------------

# Frames that say how the kernel got to the report or printed it, not where
# the bug is: entry code, workers, reporting machinery, lock primitives,
# allocators (for leak reports), the scheduler (for hung tasks).
_IGNORED_FUNCS = frozenset(
    """
    entry_SYSCALL_64_after_hwframe entry_SYSCALL_64 do_syscall_64 x64_sys_call
    do_fast_syscall_32 do_int80_syscall_32 entry_SYSENTER_compat_after_hwframe
    sysenter_past_esp invoke_syscall el0_svc_common do_el0_svc el0_svc el0t_64_sync_handler
    el0t_64_sync ret_from_fork ret_from_fork_asm kthread worker_thread process_one_work
    process_scheduled_works smpboot_thread_fn kernel_thread_helper
    dump_stack dump_stack_lvl __dump_stack show_stack show_stack_log_lvl dump_backtrace
    printk _printk vprintk vprintk_emit vprintk_default __printk_safe_enter __printk_safe_exit
    __warn warn_slowpath_fmt warn_slowpath_null warn_slowpath report_bug handle_bug
    exc_invalid_op asm_exc_invalid_op do_error_trap do_trap do_invalid_op invalid_op
    panic vpanic check_panic_on_warn __die __die_body die die_addr oops_end page_fault_oops
    kernelmode_fixup_or_oops no_context __bad_area_nosemaphore bad_area_nosemaphore
    do_user_addr_fault exc_page_fault asm_exc_page_fault handle_page_fault
    exc_general_protection asm_exc_general_protection
    kasan_report print_report print_address_description __kasan_report kasan_check_range
    save_stack set_track stack_trace_save stack_depot_save
    ubsan_epilogue nmi_cpu_backtrace nmi_trigger_cpumask_backtrace
    arch_trigger_cpumask_backtrace trigger_single_cpu_backtrace rcu_dump_cpu_stacks
    print_cpu_stall print_other_cpu_stall check_cpu_stall rcu_pending rcu_sched_clock_irq
    update_process_times __hrtimer_run_queues hrtimer_interrupt watchdog_timer_fn
    irq_exit_rcu __irq_exit_rcu handle_softirqs __do_softirq do_softirq common_interrupt
    asm_common_interrupt ret_from_intr do_IRQ
    print_circular_bug check_noncircular check_prev_add check_prevs_add validate_chain
    __lock_acquire lock_acquire print_deadlock_bug check_deadlock print_usage_bug mark_lock
    mark_lock_irq lockdep_rcu_suspicious lockdep_rcu_dereference __might_resched
    __might_sleep ___might_sleep __might_fault debug_check_no_locks_held
    lock_release print_unlock_imbalance_bug
    mutex_lock mutex_lock_nested __mutex_lock __mutex_lock_common mutex_lock_killable_nested
    mutex_lock_interruptible_nested _raw_spin_lock _raw_spin_lock_irqsave _raw_spin_lock_irq
    _raw_spin_lock_bh _raw_read_lock _raw_write_lock _raw_write_lock_bh _raw_read_lock_bh
    down_read down_write rwsem_down_read_slowpath rwsem_down_write_slowpath
    __schedule schedule context_switch __switch_to __switch_to_asm schedule_preempt_disabled
    schedule_timeout io_schedule schedule_idle preempt_schedule_common
    default_idle default_idle_call do_idle cpu_startup_entry start_secondary
    secondary_startup_64 secondary_startup_64_no_verify common_startup_64 rest_init
    start_kernel x86_64_start_reservations x86_64_start_kernel arch_call_rest_init
    cpuidle_enter cpuidle_enter_state call_cpuidle native_safe_halt
    kmemleak_alloc kmemleak_alloc_recursive kmemleak_vmalloc slab_post_alloc_hook
    __kmalloc __kmalloc_noprof __kmalloc_node_noprof __kmalloc_cache_noprof
    __kmalloc_node_track_caller_noprof kmalloc_trace kmalloc_trace_noprof
    kmalloc_node_trace_noprof kmem_cache_alloc kmem_cache_alloc_noprof
    kmem_cache_alloc_node_noprof kmem_cache_alloc_lru_noprof kmem_cache_alloc_trace
    __kmem_cache_alloc_node kmalloc_reserve __kvmalloc_node_noprof kvmalloc_node_noprof
    krealloc_noprof kmemdup_noprof __vmalloc_node_range_noprof __vmalloc_node_noprof
    vmalloc_noprof vzalloc_noprof pcpu_alloc_noprof slab_alloc_node
    ref_tracker_alloc ref_tracker_free ref_tracker_dir_exit ref_tracker_dir_print
    ref_tracker_dir_print_locked __netdev_tracker_alloc netdev_tracker_alloc netdev_hold
    """.split()
)
_IGNORED_PREFIXES = (
    "__x64_sys_",
    "__ia32_sys_",
    "__arm64_sys_",
    "__se_sys_",
    "__do_sys_",
    "__asan_",
    "__kasan_",
    "kasan_",
    "__ubsan_handle_",
    "__sysvec_",
    "sysvec_",
    "asm_sysvec_",
    "tick_",
    "__pfx_",
)
_SUFFIX_RE = re.compile(r"(?:\.(?:constprop|isra|part|cold|llvm|lto_priv|localalias)(?:\.\d+)*)+$")
_LOCATION_RES = (
    re.compile(r"^WARNING: CPU: \d+ PID: \d+ at \S+ (" + _FUNC + r")\+0x"),
    re.compile(r"^BUG: K\w+: [\w-]+(?: \w+)* in (" + _FUNC + r")\+0x"),
)
_IP_LINE_RE = re.compile(
    r"^(?:RIP|EIP|IP|pc)\s*:\s*(?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\]\s*)?(" + _FUNC + r")\+0x"
)


def _normalise_func(name: str) -> str:
    return _SUFFIX_RE.sub("", name)


def _meaningful(name: str) -> bool:
    return name not in _IGNORED_FUNCS and not name.startswith(_IGNORED_PREFIXES)


def _frames(bodies: list[str]) -> list[str]:
    """Meaningful function names of the report's main stack, in order.

    The main stack is the first run of trace lines after "Call Trace:" (lockdep
    prints other stacks before it), or the first run anywhere when the report
    has no such line (kmemleak, ref_tracker, KFENCE); later runs are the
    allocation/free stacks of the same report. Reliable frames are preferred
    over "? " ones, which are stack garbage, unless the stack has only
    unreliable frames (old kernels without ORC, UML).
    """
    trace_at = next((k for k, b in enumerate(bodies) if _CALL_TRACE_RE.match(b)), None)
    candidates = bodies[trace_at + 1 :] if trace_at is not None else bodies
    parsed = []
    started = False
    for body in candidates:
        if not body:
            continue
        if not _is_trace_line(body):
            if started:
                break
            continue
        started = True
        m = _FRAME_RE.match(body)
        if m:
            parsed.append(m)
    reliable = [m for m in parsed if not m.group("unreliable")]
    chosen = reliable or parsed
    return [name for name in (_normalise_func(m.group("func")) for m in chosen) if _meaningful(name)]


def _location(title: str, bodies: list[str]) -> str | None:
    """The function the report is about: the WARN/KASAN site or the faulting IP."""
    for regex in _LOCATION_RES:
        m = regex.match(title)
        if m:
            return _normalise_func(m.group(1))
    for body in bodies:
        if _CALL_TRACE_RE.match(body):
            break
        m = _IP_LINE_RE.match(body)
        if m:
            return _normalise_func(m.group(1))
    return None


_OFFSET_RE = re.compile(r"\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?")
_MODULE_RE = re.compile(r"\s\[\w+(?: [0-9a-f]+)?\]")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+")
_LONG_HEX_RE = re.compile(r"\b[0-9a-f]{8,}\b")
_NUMBER_RE = re.compile(r"\d+")


def _normalise_title(title: str) -> str:
    """The title without addresses, offsets, module names, PIDs or other numbers."""
    text = _OFFSET_RE.sub("", title)
    text = _MODULE_RE.sub("", text)
    text = _HEX_RE.sub("\0", text)  # placeholder, so the digit rule leaves "0x?" alone
    text = _LONG_HEX_RE.sub("?", text)
    text = _NUMBER_RE.sub("N", text)
    return " ".join(text.replace("\0", "0x?").split())


def _fingerprint(kind: str, title: str, bodies: list[str]) -> str:
    names: list[str] = []
    location = _location(title, bodies)
    if location and _meaningful(location):
        names.append(location)
    for name in _frames(bodies):
        if name not in names:  # recursion and repeated garbage frames
            names.append(name)
    if names:
        return f"{kind}: {' '.join(names[:FINGERPRINT_FRAMES])}"
    return f"{kind}: {_normalise_title(title)}"


# --- excerpt and public API ----------------------------------------------


def _excerpt(raws: list[str]) -> str:
    while raws and not raws[-1].strip():
        raws.pop()
    while raws and not raws[0].strip():
        raws.pop(0)
    if len(raws) > MAX_EXCERPT_LINES:
        tail = 9
        head = MAX_EXCERPT_LINES - tail - 1
        omitted = len(raws) - head - tail
        raws = raws[:head] + [f"[... {omitted} lines omitted ...]"] + raws[-tail:]
    return "\n".join(raws)


def _issue(lines: list[_Line], block: _Block) -> KernelIssue:
    stamped = lines[block.header].stamped
    kept = [ln for ln in lines[block.start : block.end + 1] if not _is_foreign(ln, stamped)]
    bodies = [_without_subsystem_prefix(ln.body) for ln in kept]
    title = lines[block.header].body
    return KernelIssue(
        kind=block.rule.kind,
        title=title,
        excerpt=_excerpt([ln.raw.rstrip() for ln in kept]),
        fingerprint=_fingerprint(block.rule.kind, title, bodies),
        start_line=block.start,
        end_line=block.end,
    )


def find_issues(console: str) -> list[KernelIssue]:
    """Every kernel report in ``console``, in the order they appear.

    Repeated reports (``unregister_netdevice: waiting ...`` every 10 s, the
    same WARN twice) are returned once per occurrence; group them by
    ``fingerprint``. A kmemleak scan yields one record per unreferenced
    object, plus one for a console ``kmemleak: N new suspected memory leaks``
    line if present.
    """
    lines = _split(console)
    issues: list[KernelIssue] = []
    floor = -1  # last line owned by a previous report
    i = 0
    while i < len(lines):
        rule = _match_rule(lines, i)
        if rule is None:
            i += 1
            continue
        block = _collect(lines, i, rule, floor)
        issues.append(_issue(lines, block))
        floor = block.end
        i = max(block.end, block.header) + 1
    return issues


# --- taint ----------------------------------------------------------------

#: (bit, letter, reason) per Documentation/admin-guide/tainted-kernels.rst and
#: kernel/panic.c's taint_flags[] in Linux 6.12.
TAINT_FLAGS: tuple[tuple[int, str, str], ...] = (
    (0, "P", "proprietary module was loaded"),
    (1, "F", "module was force loaded"),
    (2, "S", "kernel running on an out of specification system"),
    (3, "R", "module was force unloaded"),
    (4, "M", "processor reported a Machine Check Exception (MCE)"),
    (5, "B", "bad page referenced or some unexpected page flags"),
    (6, "U", "taint requested by userspace application"),
    (7, "D", "kernel died recently, i.e. there was an OOPS or BUG"),
    (8, "A", "ACPI table overridden by user"),
    (9, "W", "kernel issued warning"),
    (10, "C", "staging driver was loaded"),
    (11, "I", "workaround for bug in platform firmware applied"),
    (12, "O", 'externally-built ("out-of-tree") module was loaded'),
    (13, "E", "unsigned module was loaded"),
    (14, "L", "soft lockup occurred"),
    (15, "K", "kernel has been live patched"),
    (16, "X", "auxiliary taint, defined for and used by distros"),
    (17, "T", "kernel was built with the struct randomization plugin"),
    (18, "N", "an in-kernel test has been run"),
)


def parse_taint(value: int) -> list[str]:
    """Decode /proc/sys/kernel/tainted into ``"W: kernel issued warning"`` entries.

    Bits are listed from lowest to highest; bits this table does not know
    (newer kernels) come out as ``"bit 19: unknown"`` rather than being
    dropped, so a taint is never silently ignored.
    """
    if value < 0:
        raise ValueError(f"taint value must not be negative: {value}")
    known = {bit: (letter, reason) for bit, letter, reason in TAINT_FLAGS}
    out = []
    for bit in range(value.bit_length()):
        if not value >> bit & 1:
            continue
        if bit in known:
            letter, reason = known[bit]
            out.append(f"{letter}: {reason}")
        else:
            out.append(f"bit {bit}: unknown")
    return out


# "Tainted: G        W          6.12.0 #1": positional flags, then the release.
_TAINTED_RE = re.compile(r"\bTainted: (?P<flags>[A-Z][A-Z ]*?) +(?=\d)")
_NOT_TAINTED_RE = re.compile(r"\bNot tainted\b")


def taint_from_console(console: str) -> str | None:
    """The taint flags printed by the last report, e.g. ``"G        W"``.

    The kernel prints one position per flag, so the string is returned as
    printed (trailing blanks removed). ``None`` when no report printed a
    taint state or the last one said "Not tainted". The verbose 6.12 line
    ``Tainted: [W]=WARN`` repeats the same information and is ignored.
    """
    found: str | None = None
    for line in _split(console):
        m = _TAINTED_RE.search(line.body)
        if m:
            found = m.group("flags").rstrip()
        elif _NOT_TAINTED_RE.search(line.body):
            found = None
    return found
