"""The switchdev suite's switch under test (``Switch``): its ports, where commands reach
them, and the reset between tests.

The switch is netdevsim in a namespace (topology ``switchdev-nsim``) or real
switch ports in the initial namespace (``NETHARNESS_SWITCH_PORTS``,
``suitelib/ports.py``). Every route a test adds lies in TEST_NET4/TEST_NET6
and every nexthop id in NH_IDS, so that a reset on real hardware removes
exactly those. Parsing lives in ``suitelib/switchdev.py`` (pure, unit-tested).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.run import run as run_command
from harness.topology.live import LiveNode, LiveTopology
from suitelib import switchdev as sd
from suitelib.netdevsim import NetdevSimDev
from suitelib.ports import SwitchHardware

TIMEOUT = 30.0  # netdevsim sets route flags from a work item: poll, do not sleep
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1

# Addresses the fixture puts on the first two switch ports (the topology
# file declares the same ones for netdevsim). Tests route via .2 / ::2.
PORT_ADDRS = (("192.0.2.1/24", "2001:db8:1::1/64"), ("198.51.100.1/24", "2001:db8:2::1/64"))
GW4 = ("192.0.2.2", "198.51.100.2")
GW6 = ("2001:db8:1::2", "2001:db8:2::2")
# Every route a test adds lies in these prefixes and every nexthop id in
# this range, so that teardown on real hardware removes exactly those.
TEST_NET4 = "10.0.0.0/8"
TEST_NET6 = "2001:db8:1000::/40"
NH_IDS = range(1, 1000)
RULE_PREFS = range(100, 102)


@dataclass
class Switch:
    """The switch under test: its ports and where commands reach them.

    ``netns`` is None on real hardware (the initial namespace).
    """

    ports: tuple[str, ...]
    netns: str | None
    node: LiveNode | None = None
    topo: LiveTopology | None = None
    nsim: NetdevSimDev | None = None
    hardware: SwitchHardware | None = None
    _cleanups: list[Callable[[], None]] = field(default_factory=list)  # for the switch's life
    _test_cleanups: list[Callable[[], None]] = field(default_factory=list)  # for one test
    _ifindex: dict[str, int] = field(default_factory=dict)

    # --- what runs where ------------------------------------------------------

    @property
    def kind(self) -> str:
        return "netdevsim" if self.nsim is not None else "hardware"

    def require_nsim(self, why: str) -> NetdevSimDev:
        """The netdevsim device, or skip naming what the test needs."""
        if self.nsim is None:
            pytest.skip(f"needs netdevsim ({why}); running on real switch ports {','.join(self.ports)}")
        return self.nsim

    @property
    def reload_port(self) -> str:
        """An interface that survives a devlink reload (netdevsim's own ports do not)."""
        self.require_nsim("devlink reload")
        return "v1"

    def ip(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_command(["ip", *args], netns=self.netns or None, check=check, input=input, timeout=120)

    def batch(self, *lines: str) -> None:
        """Several ``ip`` commands in one process (``ip -batch -``); stops at the first failure.

        A batch line takes no global options (``-6``): ``ip route`` infers
        the family from the prefix.
        """
        self.ip("-batch", "-", input="".join(line + "\n" for line in lines))

    def ipj(self, *args: str) -> Any:
        return sd.loads(self.ip("-j", *args).stdout)

    def fails(self, *args: str) -> tuple[int, str]:
        """Run an ``ip`` command that must fail; return its exit code and extack."""
        proc = self.ip(*args, check=False)
        assert proc.returncode != 0, f"ip {' '.join(args)} succeeded but must fail"
        return proc.returncode, sd.extack(proc.stderr) or proc.stderr.strip()

    def set_sysctl(self, key: str, value: str | int) -> None:
        if self.node is not None:
            self.node.set_sysctl(key, value)
            return
        path = Path("/proc/sys") / key.replace(".", "/")
        old = path.read_text().strip()
        path.write_text(f"{value}\n")
        self._test_cleanups.append(lambda: path.write_text(f"{old}\n"))

    def set_notify(self, value: int) -> None:
        """net.ipv{4,6}.fib_notify_on_flag_change."""
        for family in ("ipv4", "ipv6"):
            self.set_sysctl(f"net.{family}.fib_notify_on_flag_change", value)

    def ifindex(self, ifname: str) -> int:
        """The interface's index (cached: the ports of a switch stay)."""
        if ifname not in self._ifindex:
            self._ifindex[ifname] = int(self.ipj("link", "show", "dev", ifname)[0]["ifindex"])
        return self._ifindex[ifname]

    # --- routes -----------------------------------------------------------------

    def routes(self, family: int, *selector: str) -> list[dict[str, Any]]:
        return self.ipj(f"-{family}", "route", "show", *selector)

    def wait_routes(
        self, family: int, expect: dict[tuple[str, ...], str], timeout: float = TIMEOUT
    ) -> None:
        """Wait until each route is in state ``in_hw``/``none``/``offload_failed``
        (see :func:`sd.route_state`) or ``absent``.

        A route is named by an ``ip route show``-style selector tuple:
        ``(prefix, "dev", D, "metric", M, "tos", T, "table", T, "via", GW)``,
        any subset of the pairs; without ``table`` it is ``main``. One dump
        of all tables per poll. Put the routes expected in hardware first:
        the driver handles events in order, so once those show their flags,
        the "none" expectations are final rather than not yet decided.
        """
        wanted = {sel: sd.parse_selector(sel) for sel in expect}
        deadline = time.monotonic() + timeout
        while True:
            routes = self.routes(family, "table", "all")
            seen = {}
            for sel, state in expect.items():
                found = sd.select_routes(routes, **wanted[sel])
                seen[sel] = [sd.route_state(r) for r in found] if found else ["absent"]
            if all(seen[sel] == [state] for sel, state in expect.items()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"IPv{family} routes: wanted {expect}, got {seen}")
            time.sleep(0.1)

    def nexthops(self) -> dict[int, Any]:
        return sd.nexthops(self.ipj("nexthop", "show"))

    def buckets(self, group: int, nhid: int | None = None) -> list[dict[str, Any]]:
        sel = ["nhid", str(nhid)] if nhid is not None else []
        return self.ipj("nexthop", "bucket", "show", "id", str(group), *sel)

    # --- notifications ------------------------------------------------------------

    def route_listener(self, family: int) -> socket.socket:
        """A netlink socket subscribed to the family's route notifications."""
        if self.node is not None:
            sock = self.node.netlink_socket(socket.NETLINK_ROUTE)
        else:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, 0))
        group = sd.RTNLGRP_IPV4_ROUTE if family == 4 else sd.RTNLGRP_IPV6_ROUTE
        sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self._test_cleanups.append(sock.close)
        return sock

    @staticmethod
    def drain(sock: socket.socket, quiet: float = 0.3) -> list[bytes]:
        """Every datagram queued on ``sock``, and what arrives until ``quiet`` s pass without any."""
        out = []
        sock.settimeout(quiet)
        with contextlib.suppress(TimeoutError, socket.timeout):
            while True:
                out.append(sock.recv(1 << 16))
        return out

    # --- teardown ---------------------------------------------------------------

    def end_test(self) -> None:
        """Undo what :meth:`set_sysctl` and :meth:`route_listener` did during a test."""
        for fn in reversed(self._test_cleanups):
            with contextlib.suppress(Exception):
                fn()
        self._test_cleanups.clear()

    def close(self) -> None:
        self.end_test()
        for fn in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                fn()
        self._cleanups.clear()


def reset(switch: Switch) -> None:
    """Remove what a test may have added: routes in the test prefixes, test
    nexthops, test rules (pref 100, 101), L3 stats requests; sysctls back to 0."""
    lines = [
        f"route flush root {TEST_NET4} table all",
        f"route flush root {TEST_NET6} table all",
        *(f"rule del pref {p}" for p in RULE_PREFS),
        *(f"stats set dev {port} l3_stats off" for port in switch.ports),
    ]
    if switch.nsim is not None:
        lines.append("nexthop flush")  # the namespace is the test's own
    else:
        nhs = switch.ip("-j", "nexthop", "show", check=False)
        if nhs.returncode == 0:
            # Groups first: deleting a member of a group would make the kernel replace the group.
            ids = sorted(sd.nexthops(sd.loads(nhs.stdout)).items(), key=lambda kv: "group" not in kv[1])
            lines += [f"nexthop del id {i}" for i, _ in ids if i in NH_IDS]
    switch.ip("-force", "-batch", "-", input="".join(line + "\n" for line in lines), check=False)
    if switch.nsim is not None:
        for key in ("fail_route_offload", "fail_route_delete", "fail_res_nexthop_group_replace",
                    "fail_nexthop_bucket_replace"):
            with contextlib.suppress(OSError):
                switch.nsim.write_knob(f"fib/{key}", "N")
        for port in switch.ports:
            switch.nsim.knob_errno("hwstats/l3/disable_ifindex", switch.ifindex(port))
    if switch.node is not None:
        switch.set_notify(0)
    switch.end_test()
