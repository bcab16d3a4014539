"""Parse ``ss -i`` listings (TCP with ``-t``, MPTCP with ``-M``).

``ss -tin`` prints one line per socket (state, queues, local and peer
address) followed by one tab-indented info line of ``key:value`` tokens,
bare flags (``app_limited``), ``name value`` pairs (``send 2.1Gbps``,
``pacing_rate ...``) and, for sockets with an upper-layer protocol, a
``tcp-ulp-NAME`` token after which the ULP's own ``key:value`` tokens follow
(``tcp-ulp-mptcp flags:Jjec token:... seq:...``).

With a single ``state`` filter ss drops the State column; callers should not
filter by state in ss but on ``SsSocket.state``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PAIR_NAMES = frozenset({"send", "pacing_rate", "delivery_rate"})
_STATES = frozenset(
    {
        "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN", "CLOSE-WAIT",
        "LAST-ACK", "LISTEN", "CLOSING", "CLOSED", "UNKNOWN",
    }
)


@dataclass(frozen=True)
class Address:
    host: str  # without brackets or %device
    port: int | None  # None for '*'
    device: str | None = None  # the socket's bound device (``10.0.2.1%eth1:47869``)

    @classmethod
    def parse(cls, text: str) -> "Address":
        host, _, port = text.rpartition(":")
        device = None
        if "%" in host:
            host, _, device = host.partition("%")
            if device.endswith("]"):  # "[fe80::1%eth0]"
                device, host = device[:-1], host + "]"
        host = host.removeprefix("[").removesuffix("]")
        return cls(host=host, port=None if port == "*" else int(port), device=device)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        dev = f"%{self.device}" if self.device else ""
        return f"{host}{dev}:{'*' if self.port is None else self.port}"


@dataclass(frozen=True)
class SsSocket:
    state: str
    recv_q: int
    send_q: int
    local: Address
    peer: Address
    info: dict[str, str] = field(default_factory=dict)  # key:value and "name value" tokens
    flags: frozenset[str] = frozenset()  # bare words such as app_limited, fallback, bbr
    ulp: str | None = None  # "mptcp" for an MPTCP subflow
    ulp_info: dict[str, str] = field(default_factory=dict)

    def int(self, key: str, default: int = 0) -> int:
        """An integer info field (``bytes_acked``); ``default`` when absent."""
        value = self.info.get(key)
        return default if value is None else int(value)


def parse_info(line: str) -> tuple[dict[str, str], frozenset[str], str | None, dict[str, str]]:
    """Split one info line into (info, flags, ulp, ulp_info)."""
    info: dict[str, str] = {}
    flags: set[str] = set()
    ulp: str | None = None
    ulp_info: dict[str, str] = {}
    tokens = line.split()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("tcp-ulp-"):
            ulp = token.removeprefix("tcp-ulp-")
            continue
        target = ulp_info if ulp is not None else info
        if ":" in token:
            key, _, value = token.partition(":")
            target[key] = value
        elif token in _PAIR_NAMES and i < len(tokens):
            target[token] = tokens[i]
            i += 1
        else:
            flags.add(token)
    return info, frozenset(flags), ulp, ulp_info


_SOCKET_LINE = re.compile(r"^(?P<state>\S+)\s+(?P<recvq>\d+)\s+(?P<sendq>\d+)\s+(?P<local>\S+)\s+(?P<peer>\S+)")


def parse_ss(text: str) -> list[SsSocket]:
    """Sockets from ``ss -tin`` / ``ss -Min`` output (with or without ``-H``).

    Expects the State column (no single-state filter) and no ``-p``/``-e``.
    """
    sockets: list[SsSocket] = []
    head: dict[str, str] | None = None
    info_lines: list[str] = []

    def flush() -> None:
        if head is None:
            return
        info, flags, ulp, ulp_info = parse_info(" ".join(info_lines))
        sockets.append(
            SsSocket(
                state=head["state"],
                recv_q=int(head["recvq"]),
                send_q=int(head["sendq"]),
                local=Address.parse(head["local"]),
                peer=Address.parse(head["peer"]),
                info=info,
                flags=flags,
                ulp=ulp,
                ulp_info=ulp_info,
            )
        )

    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if head is not None:
                info_lines.append(line)
            continue
        match = _SOCKET_LINE.match(line)
        if match is None or match["state"] not in _STATES:
            continue  # the header ("State Recv-Q ...") or something we do not know
        flush()
        head, info_lines = match.groupdict(), []
    flush()
    return sockets
