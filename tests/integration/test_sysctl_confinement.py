"""The builder's runtime half of the sysctl rule, on real namespaces (root).

Validation already refuses keys outside ``net.``; ``netns.write_sysctl`` also
refuses, at write time, a file that is the same inode inside the namespace
as in the caller's own: that is what a host-wide sysctl looks like.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from harness import netns as nsutil

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating namespaces needs root")


@pytest.fixture
def namespace():
    name = f"nh-sysctl{secrets.token_hex(3)}-t"
    fd = nsutil.create(name)
    try:
        yield fd
    finally:
        os.close(fd)
        nsutil.remove(name)


def test_a_per_namespace_sysctl_is_written_inside_only(namespace: int) -> None:
    host_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    inside_before = nsutil.read_sysctl(namespace, "net.ipv4.ip_forward")
    wanted = "0" if inside_before == "1" else "1"
    nsutil.write_sysctl(namespace, "net.ipv4.ip_forward", wanted)
    assert nsutil.read_sysctl(namespace, "net.ipv4.ip_forward") == wanted
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_before


def test_the_same_file_as_the_hosts_is_refused_before_writing() -> None:
    """Negative control: through the caller's own namespace every sysctl is "the host's"."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
        with pytest.raises(nsutil.HostWideSysctlError, match="host-wide"):
            nsutil.write_sysctl(home, "net.ipv4.ip_forward", "0" if before.strip() == "1" else "1")
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before
    finally:
        os.close(home)


@pytest.mark.parametrize("key", ["kernel.domainname", "net.//.//.//.tmp.x.victim", "net.ipv4.conf.../x"])
def test_keys_outside_net_or_with_path_tricks_never_reach_a_path(namespace: int, key: str) -> None:
    domain = Path("/proc/sys/kernel/domainname").read_text()
    with pytest.raises(ValueError, match="refused"):
        nsutil.write_sysctl(namespace, key, "pwned")
    assert Path("/proc/sys/kernel/domainname").read_text() == domain
