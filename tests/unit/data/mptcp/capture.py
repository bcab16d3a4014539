"""Capture the samples for tests/unit/test_mptcp_lib.py: run as root from the repo top,
`PYTHONPATH=. .venv/bin/python tests/unit/data/mptcp/capture.py` (host 6.18, iproute2 6.1)."""
import ctypes
import pathlib
import socket
import time

from harness.topology.live import LiveTopology
from harness.topology.loader import load_topology as load
from suitelib import mptcp_sockopt as so
from suitelib.mptcp_upm import EventListener

out = pathlib.Path(__file__).parent
topo = LiveTopology.up(load(pathlib.Path("topologies/mptcp-2path.yaml")))
try:
    c1, s1 = topo["c1"], topo["s1"]
    s1.run(["ip", "mptcp", "endpoint", "add", "10.0.2.2", "id", "9", "signal", "backup"])
    (out / "ip_mptcp_endpoint_show.json").write_text(s1.run(["ip", "-j", "mptcp", "endpoint", "show"]).stdout)
    (out / "ip_mptcp_limits_show.txt").write_text(s1.run(["ip", "mptcp", "limits", "show"]).stdout)
    ev = EventListener(c1.netlink_socket(), c1.netlink_socket())
    raw = []
    orig = ev.sock.recv
    ls = s1.socket(socket.AF_INET, socket.SOCK_STREAM, 262); ls.bind(("0.0.0.0", 5300)); ls.listen(1)
    cl = c1.socket(socket.AF_INET, socket.SOCK_STREAM, 262); cl.connect(("10.0.1.2", 5300))
    conn, _ = ls.accept(); cl.send(b"x" * 100); conn.recv(100); conn.send(b"y" * 50); cl.recv(50)
    time.sleep(1.0)
    import select
    while select.select([ev.sock], [], [], 0.3)[0]:
        raw.append(ev.sock.recv(65536))
    (out / "events.bin").write_bytes(b"".join(raw))
    (out / "events_prid.txt").write_text(str(ev.prid))
    (out / "mptcp_info.bin").write_bytes(cl.getsockopt(so.SOL_MPTCP, so.MPTCP_INFO, so.MPTCP_INFO_SIZE))
    for name, opt, size in (("subflow_addrs.bin", so.MPTCP_SUBFLOW_ADDRS, so.SUBFLOW_ADDRS_SIZE), ("tcpinfo.bin", so.MPTCP_TCPINFO, so.TCPINFO_USER_SIZE)):
        req = so.subflow_request(4, size); buf = ctypes.create_string_buffer(req, len(req)); ln = ctypes.c_uint32(len(req))
        assert so._LIBC.getsockopt(cl.fileno(), so.SOL_MPTCP, opt, buf, ctypes.byref(ln)) == 0
        (out / name).write_bytes(buf.raw[:ln.value])
    print(c1.run(["ss", "-tinH"]).stdout)
    print(so.mptcp_info(cl), so.subflow_addrs(cl))
    cl.close(); conn.close(); ls.close(); ev.close()
finally:
    topo.down()
