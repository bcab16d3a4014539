"""The TCP-AO suite's topology (tcp-ao-pair) seen in one address family: client a, server b, their addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suitelib import tcp_ao_util as util


@dataclass(frozen=True)
class Pair:
    """Topology tcp-ao-pair seen in one family: client a, server b."""

    a: Any
    b: Any
    family: util.Family
    a_addr: Any
    b_addr: Any

    @property
    def network(self) -> Any:
        """The link's subnet (10.0.1.0/24 or 2001:db8:1::/64)."""
        return util.interface(self.b, "eth0", self.family.version).network
