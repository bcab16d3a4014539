"""Topologies: YAML files -> validated, immutable model objects.

``load_topology`` is the entry point; ``TopologyError`` lists every problem
found in a file, each with its line, column and what to write instead.
"""

from .errors import Problem, TopologyError
from .loader import load_topology, load_topology_text
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
