"""The conformance suites' shared library (``tests/net`` imports it; ``harness`` does not).

Each module pairs pure parsers (text or JSON in, typed records out; tested on
captured real output in ``tests/unit/test_net_lib.py``) with thin readers
that run the tool inside a node of a live topology:

- ``ss``: ``ss -tin`` / ``ss -Min`` socket listings with their info lines.
- ``mptcp``: MPTCP subflows and connections as ``ss`` shows them, socket options.
- ``nstat``: SNMP/MIB counters (``nstat -jasz``) and their deltas.
- ``bridge``: bridge FDB entries and bridge port flags (``bridge -j``).
- ``packets``: interface counters (``ip -s -j link``) and a packet tap that
  counts marked frames on one interface.
- ``transfer``: a two-way, content-verified stream transfer between nodes.
- ``wait``: bounded polling.

Readers take any object with ``run(argv)`` / ``json(argv)`` / ``socket(...)``
(a ``harness.topology.live.LiveNode``), so the same helpers work on a remote
peer that offers those methods.
"""
