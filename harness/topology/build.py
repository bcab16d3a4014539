"""Applying a plan to the kernel, and removing what it built.

The applier walks the planner's operations in order. Every namespace and
netdevsim device is recorded in the run journal before it is created, so
``teardown`` (and a later ``netharness clean``) can remove exactly what this
run made, also after an exception or a kill halfway through.

Netlink goes through pyroute2, with one netlink socket per namespace opened
in-process (see ``harness.netns``), never by forking per namespace.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import secrets
import socket
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING


from .. import netns as nsutil
from .. import rtnl
from ..rtnl import Rtnl
from ..run import CommandError, CommandNotFound, run
from . import plan as P
from .journal import Journal, all_journals, check_run_id, machine_lock
from .model import Topology
from .origin import describe, origin

if TYPE_CHECKING:
    from pyroute2 import IPRoute
    from pyroute2.netlink.generic.mptcp import MPTCP

NETDEVSIM_BUS = Path("/sys/bus/netdevsim")
NETDEVSIM_FIRST_ID = 4000  # away from the small fixed ids upstream selftests use

NETLINK_GENERIC = 16
_SOL_NETLINK = 270
_NETLINK_EXT_ACK = 11
_MPTCP_FLAGS = {"signal": 0x1, "subflow": 0x2, "backup": 0x4, "fullmesh": 0x8}


class BuildError(RuntimeError):
    """A kernel request failed; says which operation and why.

    ``left_behind`` is set when the rollback after it could not remove
    everything (the journal then stays for ``netharness clean``).
    """

    left_behind: bool = False


class RunExistsError(BuildError):
    """The run id, or one of the run's namespace names, is already in use: nothing was created."""


class TeardownError(OSError):
    """Some of a run's objects could not be removed; its journal is kept so that `clean` can retry."""

    def __init__(self, message: str, removed: list[str]) -> None:
        super().__init__(message)
        self.removed = removed


def new_run_id() -> str:
    """8 hex characters: unique enough for concurrent runs, short enough for names.

    Uniqueness is not assumed: ``build`` reserves the id with an exclusive
    create of its journal, and refuses a taken one.
    """
    return secrets.token_hex(4)


def netlink_socket(netns_fd: int, proto: int) -> socket.socket:
    """A netlink socket of protocol ``proto`` inside the namespace ``netns_fd``, extended ACKs on."""
    sock = nsutil.socket_in(netns_fd, socket.AF_NETLINK, socket.SOCK_DGRAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    # Extended ACKs carry the kernel's own explanation ("VLAN filtering is
    # disabled") into our error messages.
    sock.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
    return sock


@dataclass
class NamespaceHandle:
    """An open namespace: its fd and netlink sockets living inside it.

    ``rtnl`` (harness.rtnl) is what the builder uses; ``ipr``, a pyroute2
    IPRoute for tests and the rarer build steps, is only created when first
    asked for: under TCG creating one costs a noticeable part of a build.
    """

    name: str
    fd: int
    rtnl: Rtnl
    _ipr: IPRoute | None = None
    _mptcp: MPTCP | None = None

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            from pyroute2 import IPRoute  # imported on first use: heavy under TCG

            self._ipr = IPRoute(use_socket=netlink_socket(self.fd, socket.NETLINK_ROUTE))
        return self._ipr

    @property
    def mptcp(self) -> MPTCP:
        if self._mptcp is None:
            from pyroute2.netlink.generic.mptcp import MPTCP

            self._mptcp = MPTCP(use_socket=netlink_socket(self.fd, NETLINK_GENERIC))
        return self._mptcp

    @classmethod
    def open(cls, name: str, fd: int) -> "NamespaceHandle":
        return cls(name=name, fd=fd, rtnl=Rtnl(netlink_socket(fd, socket.NETLINK_ROUTE)))

    def close(self) -> None:
        for client in (self.rtnl, self._ipr, self._mptcp):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _is_netlink_error(exc: BaseException) -> bool:
    """A pyroute2 NetlinkError; pyroute2 is only imported when a step needed it, so none can occur before."""
    exceptions = sys.modules.get("pyroute2.netlink.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.NetlinkError)


def refusal_message(topology: Topology, op: P.Op, exc: BaseException) -> str:
    """``file:line:col: <what was being done> failed: <why>``: the setting to change, in words.

    The validated text is parsed again only here, on the error path, to find the line.
    """
    from .loader import setting_position

    where = setting_position(topology, origin(topology, op))
    prefix = f"{where}: " if where else ""
    return f"{prefix}{describe(op)} failed: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    """The kernel's words: errno name and text, plus the extended ACK message when there is one."""
    if _is_netlink_error(exc):
        text = os.strerror(exc.code) if exc.code else "error"
        name = errno.errorcode.get(exc.code, str(exc.code))
        message = str(exc.args[1]) if len(exc.args) > 1 and exc.args[1] and exc.args[1] != text else ""
        return f"{name}: {text}" + (f": {message}" if message else "")
    if isinstance(exc, OSError) and exc.errno:
        detail = f" ({exc.filename})" if exc.filename else ""
        return f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}{detail}"
    return str(exc)


@dataclass
class Applier:
    """Executes plan operations; keeps the per-namespace handles it opened."""

    plan: P.Plan
    journal: Journal
    handles: dict[str, NamespaceHandle] = field(default_factory=dict)
    ifindex: dict[tuple[str, str], int] = field(default_factory=dict)
    netdevsim_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    # What this run itself created (or may have, when interrupted mid-call):
    # rollback removes these and nothing else, so a name or id that turned
    # out to belong to someone else is never touched.
    created_netns: list[str] = field(default_factory=list)
    created_netdevsim: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ifindex.update(self.plan.ifindex)

    def run(self) -> None:
        for op in self.plan.ops:
            try:
                getattr(self, f"_do_{type(op).__name__}")(op)
            except Exception as exc:
                if not isinstance(exc, (OSError, ValueError, BuildError)) and not _is_netlink_error(exc):
                    raise
                raise BuildError(refusal_message(self.plan.topology, op, exc)) from exc

    def index(self, node: str, ifname: str) -> int:
        key = (node, ifname)
        if key not in self.ifindex:
            found = self.handles[node].rtnl.link_index(ifname)
            if found is None:
                raise BuildError(f"node {node}: no interface {ifname!r}")
            self.ifindex[key] = found
        return self.ifindex[key]

    # --- namespaces and sysctls --------------------------------------------

    def _do_CreateNetns(self, op: P.CreateNetns) -> None:
        # Already in the journal: build() records every planned name up front.
        # Claimed before the call, so that an interrupt inside it still rolls
        # the namespace back; released only when the exclusive create found
        # the name taken (then it is someone else's).
        self.created_netns.append(op.netns)
        try:
            fd = nsutil.create(op.netns)
        except FileExistsError:
            self.created_netns.remove(op.netns)
            raise
        try:
            self.handles[op.node] = NamespaceHandle.open(op.netns, fd)
        except BaseException:
            os.close(fd)
            raise

    def _do_SetSysctl(self, op: P.SetSysctl) -> None:
        nsutil.write_sysctl(self.handles[op.node].fd, op.key, op.value)

    # --- netdevsim ------------------------------------------------------------

    def _do_CreateNetdevsim(self, op: P.CreateNetdevsim) -> None:
        if not (NETDEVSIM_BUS / "new_device").exists():
            raise BuildError(f"netdevsim is not available: {NETDEVSIM_BUS / 'new_device'} does not exist")
        with machine_lock("netdevsim"):
            dev_id = _free_netdevsim_id()
            self.journal.netdevsim[f"{op.node}/{op.device}"] = dev_id
            self.journal.save()
        self.netdevsim_ids[(op.node, op.device)] = dev_id
        spec = f"{dev_id} {op.ports}" + (f" {op.queues}" if op.queues else "")
        if (NETDEVSIM_BUS / "devices" / f"netdevsim{dev_id}").exists():
            raise BuildError(f"netdevsim{dev_id} appeared after it was allocated: not ours, left alone")
        self.created_netdevsim.append(dev_id)
        try:
            nsutil.write_file_in(self.handles[op.node].fd, str(NETDEVSIM_BUS / "new_device"), spec)
        except OSError:
            # The kernel refused the device (a taken id gives ENOSPC):
            # nothing of ours exists under this id.
            self.created_netdevsim.remove(dev_id)
            raise

    def _command(self, node: str, argv: Sequence[str]) -> None:
        """Run a CLI (devlink, ethtool: pyroute2 is weak there) inside ``node``'s namespace."""
        try:
            run(argv, netns=self.handles[node].name, where=f"node {node}")
        except CommandNotFound as exc:
            raise BuildError(str(exc)) from None
        except CommandError as exc:
            raise BuildError(f"{argv[0]} exited {exc.returncode}: {(exc.stderr or exc.stdout).strip()}") from None

    def _do_SetDevlinkParam(self, op: P.SetDevlinkParam) -> None:
        self._command(op.node, P.devlink_param_argv(self.netdevsim_ids[(op.node, op.device)], op.param))

    def _do_ReloadDevlink(self, op: P.ReloadDevlink) -> None:
        self._command(op.node, P.devlink_reload_argv(self.netdevsim_ids[(op.node, op.device)]))

    def _do_SetEswitchMode(self, op: P.SetEswitchMode) -> None:
        self._command(op.node, P.eswitch_argv(self.netdevsim_ids[(op.node, op.device)], op.mode))

    def _do_RunEthtool(self, op: P.RunEthtool) -> None:
        self._command(op.node, op.argv)

    def _do_RenameNetdevsimPort(self, op: P.RenameNetdevsimPort) -> None:
        ipr = self.handles[op.node].ipr
        dev_id = self.netdevsim_ids[(op.node, op.device)]
        index = _find_netdevsim_port(ipr, dev_id, op.port)
        if index is None:
            raise BuildError(f"node {op.node}: netdevsim{dev_id} has no port {op.port}")
        self.handles[op.node].rtnl.request(rtnl.RTM_NEWLINK, rtnl.set_link(index, ifname=op.ifname))
        self.ifindex[(op.node, op.ifname)] = index

    def _do_PeerNetdevsim(self, op: P.PeerNetdevsim) -> None:
        a, b = self.handles[op.node], self.handles[op.peer_node]
        spec = f"{a.fd}:{self.index(op.node, op.ifname)} {b.fd}:{self.index(op.peer_node, op.peer_ifname)}"
        with open(NETDEVSIM_BUS / "link_device", "w", encoding="ascii") as f:
            f.write(spec)

    # --- links ----------------------------------------------------------------

    def _do_CreateVeth(self, op: P.CreateVeth) -> None:
        # One request: both ends get their planned ifindex, the peer is born
        # in its namespace, and the local end joins its bridge and comes up.
        local, peer = op.local, op.peer
        master = self.index(op.node, op.local_master) if op.local_master is not None else None
        body = rtnl.new_veth(
            local.ifindex, local.ifname, local.up, peer.ifindex, peer.ifname, self.handles[op.peer_node].fd,
            mtu=local.mtu, mac=local.mac, peer_mtu=peer.mtu, peer_mac=peer.mac, master=master,
        )
        self.handles[op.node].rtnl.create(rtnl.RTM_NEWLINK, body)
        if peer.up:
            # The kernel cannot open the peer before the pair is linked
            # (veth_open: ENOTCONN), so the peer comes up in a second request.
            self.handles[op.peer_node].rtnl.request(rtnl.RTM_NEWLINK, rtnl.set_link(peer.ifindex, up=True))

    def _do_CreateBridge(self, op: P.CreateBridge) -> None:
        # Down until its ports are in. vlan_filtering only when asked: kernels
        # without BRIDGE_VLAN_FILTERING reject the attribute even when it says 0.
        s = op.link
        body = rtnl.new_bridge(s.ifindex, s.ifname, mtu=s.mtu, mac=s.mac, vlan_filtering=op.vlan_filtering)
        self.handles[op.node].rtnl.create(rtnl.RTM_NEWLINK, body)

    def _do_CreateVlan(self, op: P.CreateVlan) -> None:
        s = op.link
        body = rtnl.new_vlan(s.ifindex, s.ifname, self.index(op.node, op.parent), op.vlan_id, mtu=s.mtu, mac=s.mac)
        self.handles[op.node].rtnl.create(rtnl.RTM_NEWLINK, body)

    def _do_SetMaster(self, op: P.SetMaster) -> None:
        body = rtnl.set_link(self.index(op.node, op.ifname), master=self.index(op.node, op.master))
        self.handles[op.node].rtnl.request(rtnl.RTM_NEWLINK, body)

    def _do_AddBridgeVlan(self, op: P.AddBridgeVlan) -> None:
        v = op.vlans
        body = rtnl.bridge_vlans(self.index(op.node, op.ifname), v.first, v.last, pvid=v.pvid,
                                 untagged=v.untagged, on_bridge=op.on_bridge)
        self.handles[op.node].rtnl.request(rtnl.RTM_SETLINK, body)

    def _do_ConfigureLink(self, op: P.ConfigureLink) -> None:
        if op.mtu is None and op.mac is None and op.up is None:
            return
        body = rtnl.set_link(self.index(op.node, op.ifname), mtu=op.mtu, mac=op.mac, up=op.up)
        self.handles[op.node].rtnl.request(rtnl.RTM_NEWLINK, body)

    # --- layer 3 --------------------------------------------------------------

    def _do_AddAddress(self, op: P.AddAddress) -> None:
        addr = op.address
        family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
        # No DAD for IPv6: an address left "tentative" cannot be bound, and
        # tests would race the 1-2 s DAD timer.
        body = rtnl.new_address(self.index(op.node, op.ifname), family, addr.ip.packed, addr.network.prefixlen,
                                nodad=addr.version == 6)
        self.handles[op.node].rtnl.create(rtnl.RTM_NEWADDR, body)

    def _do_AddRoute(self, op: P.AddRoute) -> None:
        r = op.route
        family = socket.AF_INET if r.family == 4 else socket.AF_INET6
        if r.to == "default":
            dst, dst_len = None, 0
        else:
            network = ipaddress.ip_network(r.to, strict=False)
            dst, dst_len = network.network_address.packed, network.prefixlen
        body = rtnl.new_route(
            family, dst, dst_len,
            gateway=ipaddress.ip_address(str(r.via)).packed if r.via is not None else None,
            oif=self.index(op.node, r.dev) if r.dev is not None else None,
            priority=r.metric, table=r.table,
        )
        self.handles[op.node].rtnl.create(rtnl.RTM_NEWROUTE, body)

    def _do_SetMptcpLimits(self, op: P.SetMptcpLimits) -> None:
        kwargs = {}
        if op.limits.subflows is not None:
            kwargs["subflows"] = op.limits.subflows
        if op.limits.add_addr_accepted is not None:
            kwargs["rcv_add_addrs"] = op.limits.add_addr_accepted
        self.handles[op.node].mptcp.limits("set", **kwargs)

    def _do_AddMptcpEndpoint(self, op: P.AddMptcpEndpoint) -> None:
        ep = op.endpoint
        kwargs: dict = {"addr4" if ep.address.version == 4 else "addr6": str(ep.address)}
        if ep.id is not None:
            kwargs["id"] = ep.id
        if ep.port is not None:
            kwargs["port"] = ep.port
        flags = sum(_MPTCP_FLAGS[f] for f in ep.flags)
        if flags:
            kwargs["flags"] = flags
        if ep.interface is not None:
            # pyroute2 0.9 declares IF_IDX as a raw ('hex') attribute, so it
            # takes the kernel's s32 as bytes.
            kwargs["if_idx"] = struct.pack("=i", self.index(op.node, ep.interface))
        self.handles[op.node].mptcp.endpoint("add", **kwargs)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


# --- netdevsim helpers ------------------------------------------------------------


def _free_netdevsim_id() -> int:
    """Lowest id neither present on the bus nor reserved by a sound journal.

    Called with the netdevsim machine lock held; the caller records the id in
    its journal before releasing it. Unsound journals are skipped here (a
    build does not move files aside; `clean` does), which is safe: an id
    they name that exists is on the bus anyway.
    """
    used = set()
    for entry in (NETDEVSIM_BUS / "devices").iterdir():
        suffix = entry.name.removeprefix("netdevsim")
        if entry.name.startswith("netdevsim") and suffix.isdigit():
            used.add(int(suffix))
    for journal in all_journals():
        used.update(journal.netdevsim.values())
    dev_id = NETDEVSIM_FIRST_ID
    while dev_id in used:
        dev_id += 1
    return dev_id


def _find_netdevsim_port(ipr: IPRoute, dev_id: int, port: int) -> int | None:
    """ifindex of port ``port`` (0-based) of netdevsim device ``dev_id`` here.

    netdevsim numbers its devlink ports from 1 (phys_port_name ``p1`` is
    port index 0).
    """
    parent = f"netdevsim{dev_id}"
    for link in ipr.get_links():
        if link.get_attr("IFLA_PARENT_DEV_NAME") == parent and link.get_attr("IFLA_PHYS_PORT_NAME") == f"p{port + 1}":
            return link["index"]
    return None


def delete_netdevsim(dev_id: int) -> bool:
    """Remove one netdevsim device by id; False if it was already gone.

    Ids below NETDEVSIM_FIRST_ID are never the harness's (upstream
    selftests use them), so they are refused outright.
    """
    if not isinstance(dev_id, int) or isinstance(dev_id, bool) or dev_id < NETDEVSIM_FIRST_ID:
        raise ValueError(f"netdevsim id {dev_id!r} is not one the harness allocates")
    if not (NETDEVSIM_BUS / "devices" / f"netdevsim{dev_id}").exists():
        return False
    try:
        with open(NETDEVSIM_BUS / "del_device", "w", encoding="ascii") as f:
            f.write(str(dev_id))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EINVAL):
            return False
        raise
    return True


# --- build and teardown -----------------------------------------------------------


def teardown(
    journal: Journal, notes: list[str] | None = None, spare_netdevsim: frozenset[int] | set[int] = frozenset()
) -> list[str]:
    """Remove everything the journal lists; return what was actually removed.

    netdevsim devices go first: a physical-like netdev whose namespace dies is
    moved back to the root namespace, where it would be left behind. An
    entry that is not a namespace, or an id in ``spare_netdevsim`` (held by
    another run's journal), is left alone and described in ``notes``. When
    something could not be removed the journal is kept, for a later `clean`,
    and TeardownError says what.
    """
    notes = [] if notes is None else notes
    removed: list[str] = []
    failed: list[str] = []
    for key, dev_id in journal.netdevsim.items():
        if dev_id in spare_netdevsim:
            notes.append(f"netdevsim{dev_id} ({key}) is held by another run; left alone")
            continue
        try:
            if delete_netdevsim(dev_id):
                removed.append(f"netdevsim{dev_id} ({key})")
        except ValueError as exc:
            notes.append(str(exc))
        except OSError as exc:
            failed.append(f"netdevsim{dev_id}: {exc}")
    mounts = nsutil.mount_types()
    for name in journal.netns.values():
        try:
            if nsutil.remove(name, mounts):
                removed.append(f"netns {name}")
        except (ValueError, nsutil.NotANamespaceError) as exc:
            notes.append(str(exc))
        except OSError as exc:
            failed.append(f"netns {name}: {exc}")
    if failed:
        raise TeardownError(f"run {journal.run_id}: could not remove " + "; ".join(failed), removed)
    journal.delete()
    return removed


def _rollback(applier: Applier) -> bool:
    """Undo a failed build: remove what this run created itself, then its journal.

    Never goes by the journal's names: those are what the run *planned*, and
    a name or id that turned out to be taken belongs to someone else. If
    anything resists, the journal stays (incomplete, its owner about to die)
    and `clean` finishes the job.
    """
    applier.close()
    failed = False
    for dev_id in reversed(applier.created_netdevsim):
        try:
            delete_netdevsim(dev_id)
        except (OSError, ValueError):
            failed = True
    mounts = nsutil.mount_types() if applier.created_netns else {}
    for name in reversed(applier.created_netns):
        try:
            nsutil.remove(name, mounts)
        except (OSError, ValueError):
            failed = True
    if not failed:
        applier.journal.delete()
    return not failed


def _taken_names(plan: P.Plan) -> list[str]:
    """Planned namespace names that already exist (as anything) under /run/netns."""
    return [name for name in plan.netns.values() if os.path.lexists(nsutil.netns_path(name))]


def build(topology: Topology, run_id: str | None = None, detached: bool = False) -> tuple[Journal, Applier]:
    """Build ``topology``; on any failure, undo what this run created and re-raise.

    The run id is reserved first (exclusive create of the journal), and the
    build is refused with RunExistsError, creating nothing, when the id or
    any planned namespace name is taken. Returns the journal (the run's
    identity) and the applier, whose handles stay open for the live topology.
    """
    run_id = check_run_id(run_id or new_run_id())
    plan = P.make_plan(topology, run_id)
    journal = Journal.new(run_id, topology.name, str(topology.source) if topology.source else None)
    journal.detached = detached
    applier = Applier(plan=plan, journal=journal)
    try:
        try:
            journal.reserve()
        except FileExistsError:
            raise RunExistsError(f"run id {run_id} is already in use ({journal.path}); nothing created") from None
        taken = _taken_names(plan)
        if taken:
            raise RunExistsError(f"run {run_id}: namespace {', '.join(taken)} already exists; nothing created")
        journal.netns = dict(plan.netns)  # write-ahead: names known before creation
        journal.save()
        applier.run()
        journal.complete = True
        journal.save()
    except BaseException as exc:
        # Also when interrupted inside reserve(): the file is ours if it is
        # our record; a taken id's file is someone else's and stays.
        if journal.is_mine() and not _rollback(applier) and isinstance(exc, BuildError):
            exc.left_behind = True
        raise
    return journal, applier
