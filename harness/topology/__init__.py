"""Topologies: YAML files -> validated, immutable model objects.

``load_topology`` is the entry point; ``TopologyError`` lists every problem
found in a file, each with its line, column and what to write instead.
"""

from typing import TYPE_CHECKING, Any

from .errors import Problem, TopologyError
from .model import (
    Bridge,
    BridgePort,
    Endpoint,
    InterfaceConfig,
    IPAddress,
    IPInterface,
    Link,
    Mptcp,
    MptcpEndpoint,
    MptcpLimits,
    NetdevsimDevice,
    Node,
    Requires,
    Route,
    Topology,
    Vlan,
    VlanRange,
)

if TYPE_CHECKING:
    from .loader import load_topology, load_topology_text


def __getattr__(name: str) -> Any:
    # The loader pulls in ruamel.yaml and jsonschema (seconds to import in a
    # TCG guest); code that only needs the model must not pay for it.
    if name in ("load_topology", "load_topology_text"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Bridge",
    "BridgePort",
    "Endpoint",
    "IPAddress",
    "IPInterface",
    "InterfaceConfig",
    "Link",
    "Mptcp",
    "MptcpEndpoint",
    "MptcpLimits",
    "NetdevsimDevice",
    "Node",
    "Problem",
    "Requires",
    "Route",
    "Topology",
    "TopologyError",
    "Vlan",
    "VlanRange",
    "load_topology",
    "load_topology_text",
]
