"""Where a suite's switch ports come from: software (veth/netdevsim) or real hardware.

The same bridge or switchdev test runs on ports the harness builds (veth
pairs for the software bridge, netdevsim ports for the switchdev model) or
on a real switch ASIC's ports that the user names. This module holds the
pure part of that contract: reading the user's declaration of real ports
from the environment and checking it. Moving real ports into namespaces
and restoring them is I/O and lives with the fixtures that do it.

The environment contract, modelled on the kernel selftests' forwarding.config
(``NETIFS[p1..pN]``: each host-side interface is cabled to a switch port):

``NETHARNESS_SWITCH_PORTS``
    Comma-separated switch port netdevs in the initial namespace, e.g.
    ``swp1,swp2,swp3,swp4``.
``NETHARNESS_SWITCH_PEERS``
    Comma-separated netdevs cabled to those ports, one per port, in the same
    order (loopback cables to the same machine). The harness moves each into
    a host namespace for the test and back afterwards. Optional for suites
    that need no traffic (the switchdev FIB offload checks).
``NETHARNESS_SWITCH_DEVLINK``
    The ASIC's devlink handle (``pci/0000:03:00.0``). Optional; suites that
    need devlink skip without it.

Nothing here touches an interface: a typo in the environment is an error
raised before any test runs, naming the variable and what to write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

PORTS_ENV = "NETHARNESS_SWITCH_PORTS"
PEERS_ENV = "NETHARNESS_SWITCH_PEERS"
DEVLINK_ENV = "NETHARNESS_SWITCH_DEVLINK"

_IFNAME = re.compile(r"^[^/:\s]{1,15}$")
_DEVLINK_HANDLE = re.compile(r"^[a-z0-9_-]+/[^/\s]+$")


class PortContractError(ValueError):
    """The environment's declaration of real switch ports is malformed."""


@dataclass(frozen=True)
class SwitchHardware:
    """Real switch ports the user put at the harness's disposal."""

    ports: tuple[str, ...]
    peers: tuple[str, ...]  # empty when no loopback cabling was declared
    devlink: str | None

    @property
    def has_peers(self) -> bool:
        return bool(self.peers)

    def peer_of(self, port: str) -> str:
        """The host-side netdev cabled to ``port``."""
        if not self.peers:
            raise PortContractError(f"{PEERS_ENV} is not set: no host-side interface is cabled to {port}")
        return self.peers[self.ports.index(port)]


def _names(variable: str, value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(","))
    for name in names:
        if not _IFNAME.match(name):
            raise PortContractError(
                f"{variable}={value!r}: {name!r} is not an interface name; "
                f"write comma-separated netdev names, e.g. {variable}=swp1,swp2"
            )
    if len(set(names)) != len(names):
        raise PortContractError(f"{variable}={value!r}: an interface is listed twice")
    return names


def switch_hardware_from_env(environ: Mapping[str, str] | None = None) -> SwitchHardware | None:
    """The real switch ports the environment declares, or None for software ports."""
    env = os.environ if environ is None else environ
    ports_value = env.get(PORTS_ENV, "").strip()
    peers_value = env.get(PEERS_ENV, "").strip()
    devlink = env.get(DEVLINK_ENV, "").strip() or None
    if not ports_value:
        stray = [name for name in (PEERS_ENV, DEVLINK_ENV) if env.get(name, "").strip()]
        if stray:
            raise PortContractError(
                f"{', '.join(stray)} set without {PORTS_ENV}; "
                f"write {PORTS_ENV}=swp1,swp2,... naming the switch ports"
            )
        return None
    ports = _names(PORTS_ENV, ports_value)
    peers = _names(PEERS_ENV, peers_value) if peers_value else ()
    if peers and len(peers) != len(ports):
        raise PortContractError(
            f"{PEERS_ENV} names {len(peers)} interfaces but {PORTS_ENV} names {len(ports)}; "
            "write one peer per switch port, in the same order"
        )
    if set(peers) & set(ports):
        raise PortContractError(f"{PEERS_ENV} and {PORTS_ENV} share an interface; a port cannot be its own peer")
    if devlink is not None and not _DEVLINK_HANDLE.match(devlink):
        raise PortContractError(
            f"{DEVLINK_ENV}={devlink!r} is not a devlink handle; write bus/device, e.g. pci/0000:03:00.0"
        )
    return SwitchHardware(ports=ports, peers=peers, devlink=devlink)
