"""Host side of ``pytest --kernel``: run each item in a guest, replay its reports.

The host pytest stays the source of truth: it collects, selects (``-k``,
``--lf``), orders and reports. Only ``pytest_runtest_protocol`` is taken
over: the item runs in the guest and its reports come back serialised with
pytest's own hooks, then go through ``pytest_runtest_logreport`` here, so
terminal output, ``-x``, ``--junitxml`` and pytest-xdist (one VM per worker)
see ordinary reports.

Kernel trouble is pinned on the item that was running: console issues
between its begin/end markers fail it (with excerpt and fingerprint), a VM
that dies or hangs fails it and is replaced, and the remaining items go on
in a fresh VM.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _pytest.reports import TestReport

from ..host import cache_dir
from ..kernel.build import BuiltKernel, build_kernel
from ..kernel.image import KernelImageError, kernel_image
from .. import fixtures
from . import reaper
from . import reports as rep
from .accel import choose_accel
from .bundle import build_bundle
from .machine import BootError, GuestVM

GRACE_AFTER_TIMEOUT = 10.0  # the guest's pytest-timeout fires first
DEFAULT_BACKSTOP = 900.0  # no --timeout given: a hung test still ends
MAX_BOOT_FAILURES = 2


def resolve_kernel(value: str) -> Path:
    """``default`` builds or reuses the default kernel; otherwise a bzImage or a build dir.

    Checked here, before the KVM probe or any boot, so that a wrong path
    (``--kernel /etc/passwd``, a vmlinux, a source tree never built) is one
    line at start-up rather than two failed boots and a cached bad probe.
    """
    if value == "default":
        built: BuiltKernel = build_kernel()
        return built.image
    try:
        return kernel_image(Path(value).resolve())
    except KernelImageError as exc:
        raise pytest.UsageError(f"--kernel {value}: {exc}") from None


def is_xdist_controller(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def guest_plugin_modules(config: pytest.Config) -> list[str]:
    """The installed plugins the host loaded, by module, minus xdist.

    The guest disables pytest's entry-point autoload (scanning every
    distribution's metadata is seconds under TCG) and loads exactly these;
    xdist has no role in the guest, which runs the items it is handed.
    """
    modules = []
    for plugin, _dist in config.pluginmanager.list_plugin_distinfo():
        name = getattr(plugin, "__name__", "")
        if name and name.split(".")[0] != "xdist":
            modules.append(name)
    return list(dict.fromkeys(modules))


TOPOLOGY_FIXTURES = fixtures.TOPOLOGY_FIXTURES


def uses_topologies(item: pytest.Item) -> bool:
    """Whether ``item`` builds topologies (so the guest needs the loader and pyroute2)."""
    return fixtures.uses_topologies(item)


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so pytest unwinds and the VMs are killed.

    By default SIGTERM ends Python at once, leaving vng, QEMU and virtiofsd
    (in their own session, so no terminal signal reaches them) running.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone (xdist, a CI wrapper) already handles it

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


class VMSession:
    """pytest plugin object registered by ``plugin.py`` when ``--kernel`` is given."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.kernel = resolve_kernel(config.getoption("kernel"))
        self.controller = is_xdist_controller(config)
        self.vm: GuestVM | None = None
        self.instances = 0
        self.boot_failures = 0
        self.boot_retries: list[str] = []
        self.last_boot_error: str | None = None
        self.started = time.monotonic()
        self.workdir = cache_dir() / "vm-runs" / uuid.uuid4().hex[:12]
        self.failed_any = False
        self.bundle: Path | None = None
        if not self.controller:
            self.accel, self.accel_reason = choose_accel(self.kernel, cache_dir() / "kvm-probe.json")
        _interrupt_on_sigterm()
        atexit.register(self._kill_vm)

    def _kill_vm(self) -> None:
        """Last resort (interpreter exit): no VM outlives the pytest that started it."""
        if self.vm is not None:
            self.vm.kill()
            self.vm = None

    # --- reporting header -----------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = [f"netharness: kernel {self.kernel}"]
        if not self.controller:
            lines.append(f"netharness: accelerator {self.accel} ({self.accel_reason}); consoles in {self.workdir}")
        return lines

    # --- guest arguments ------------------------------------------------------

    def guest_args(self, session: pytest.Session) -> list[str]:
        """pytest arguments for the guest: same rootdir, ini, timeout and files."""
        config = self.config
        args = ["-q", "-p", "no:randomly", "--rootdir", str(config.rootpath)]
        for module in guest_plugin_modules(config):
            args += ["-p", module]
        if config.inipath is not None:
            args += ["-c", str(config.inipath)]
        timeout = config.getoption("timeout", None)
        if timeout:
            args += ["--timeout", str(timeout)]
        # The guest looks topologies up as the host would (fixtures.topology_dirs);
        # it does not inherit the host's environment, so NETHARNESS_TOPOLOGY_DIR
        # travels as --topology-dir after the explicit ones (same order).
        start = Path(config.invocation_params.dir)
        for directory in [*(config.getoption("topology_dir") or []), *fixtures.env_topology_dirs()]:
            args += ["--topology-dir", str((start / directory).resolve())]
        paths = dict.fromkeys(str(item.path) for item in session.items)
        return args + list(paths)

    def _bundle(self, session: pytest.Session) -> Path | None:
        """Modules for the guest in one zip (see bundle.py); built once per session,
        after collection, when this process has imported what the tests import."""
        if self.bundle is None and not self.config.getoption("vm_no_bundle"):
            if any(uses_topologies(item) for item in session.items):
                # The host never builds these topologies itself (the guest
                # does), so it has not imported the loader and pyroute2 yet:
                # import them here so that they ride in the bundle.
                import harness.topology.live  # noqa: F401
                import harness.topology.loader  # noqa: F401
            patterns = list(self.config.getini("python_files"))
            import harness

            self.bundle = build_bundle(cache_dir() / "bundles", patterns, whole_packages=(harness,))
        return self.bundle

    def _ensure_vm(self, session: pytest.Session) -> GuestVM:
        if self.vm is not None and self.vm.alive():
            return self.vm
        self.vm = GuestVM(
            bundle=self._bundle(session),
            kernel=self.kernel, workdir=self.workdir, pytest_args=self.guest_args(session),
            accel=self.accel, memory=self.config.getoption("vm_memory"), cpus=self.config.getoption("vm_cpus"),
            boot_timeout=self.config.getoption("vm_boot_timeout"), cwd=Path.cwd(), instance=self.instances,
        )
        self.instances += 1
        try:
            self.vm.start()
        except BootError:
            self.vm.kill()
            raise
        return self.vm

    def _timeout_for(self, item: pytest.Item) -> float:
        marker = item.get_closest_marker("timeout")
        seconds = None
        if marker is not None and marker.args:
            seconds = float(marker.args[0])
        elif self.config.getoption("timeout", None):
            seconds = float(self.config.getoption("timeout"))
        return seconds + GRACE_AFTER_TIMEOUT if seconds else DEFAULT_BACKSTOP

    # --- the protocol -----------------------------------------------------------

    # pytest-timeout's timers belong in the guest, where the test runs; on the
    # host they would interrupt the wait for the guest. The host keeps its own
    # backstop (``_timeout_for``).
    @pytest.hookimpl(tryfirst=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> bool | None:
        return None if self.controller else True

    @pytest.hookimpl(tryfirst=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        return None if self.controller else True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        if self.controller:
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self._run(item, nextitem):
            if report.failed:
                self.failed_any = True
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _run(self, item: pytest.Item, nextitem: pytest.Item | None) -> list[TestReport]:
        deadline = self.config.getoption("run_deadline")
        if deadline is not None and time.monotonic() - self.started > deadline:
            return [rep.synthetic(item, f"not run: the run deadline of {deadline:.0f} s (--run-deadline) passed")]
        if self.boot_failures >= MAX_BOOT_FAILURES:
            return [rep.synthetic(item, f"not run: the guest failed to boot {self.boot_failures} times; "
                                        f"last error: {self.last_boot_error}")]
        try:
            try:
                vm = self._ensure_vm(item.session)
            except BootError as first:
                # One more boot before blaming the item: under TCG a guest
                # occasionally crashes while booting (seen: an int3 oops in
                # jump-label patching with 2 vCPUs), which says nothing about
                # the test. The failed boot stays on record: its console is
                # kept and the summary names it.
                self.failed_any = True
                self.boot_retries.append(f"{item.nodeid}: {first}")
                vm = self._ensure_vm(item.session)
        except BootError as exc:
            self.boot_failures += 1
            self.last_boot_error = str(exc)
            return [rep.synthetic(item, f"VM boot failed: {exc}", console=exc.console_tail)]
        self.boot_failures = 0
        outcome = vm.run_item(item.nodeid, nextitem.nodeid if nextitem else None, self._timeout_for(item))
        reports = rep.reports_for(item, self.config, outcome, vm.console_path)
        if outcome.vm_died or rep.needs_fresh_vm(outcome):
            vm.kill()
            self.vm = None
        return reports

    # --- end of session ---------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session):  # type: ignore[no-untyped-def]
        """After the last item: stop the guest and report what its final
        checks found, while a failure still counts towards the exit status."""
        yield
        if self.vm is None or self.controller:
            return
        vm, self.vm = self.vm, None
        done = vm.stop(kmemleak=self.config.getoption("kmemleak") == "end")
        for report in rep.final_check_reports(done, vm.console_path):
            self.failed_any = True
            session.config.hook.pytest_runtest_logreport(report=report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.vm is not None:
            if exitstatus == pytest.ExitCode.INTERRUPTED:
                self.vm.kill()  # Ctrl-C or SIGTERM: no graceful guest exit, no final checks
            else:
                self.vm.stop()
            self.vm = None
        # VMs of processes that died without unwinding (xdist workers torn
        # down by an interrupted controller, a SIGKILLed run).
        wait = 10.0 if self.controller and exitstatus == pytest.ExitCode.INTERRUPTED else 0.0
        for vm_dir in reaper.reap_orphans(cache_dir() / "vm-runs", wait_for_children=wait):
            print(f"netharness: killed the VM of {vm_dir}: its pytest process was gone")
        if self.keep_consoles:
            return
        if not self.failed_any and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def keep_consoles(self) -> bool:
        return bool(self.config.getoption("vm_keep_consoles"))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if (self.failed_any or self.keep_consoles) and not self.controller:
            terminalreporter.write_line(f"netharness: guest consoles kept in {self.workdir}")
        for retry in self.boot_retries:
            terminalreporter.write_line(f"netharness: a guest failed to boot and was booted again before {retry}")
