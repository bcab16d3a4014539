"""Integration tests run as root and create real kernel objects (namespaces,
veths, bridges), always with run-unique names, always removed."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="integration tests need root (they create namespaces)")
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(skip)
