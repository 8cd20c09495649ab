"""Booted test nodes for the deployment tests (root, debootstrap and systemd-nspawn needed).

One control node and one GPU node (CPU-only, so vLLM's CPU build) per session, on a private
bridge; torn down at the end. Skipped where the tools or root are missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import nodes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [t for t in ("debootstrap", "systemd-nspawn", "ssh") if shutil.which(t) is None]
    if os.geteuid() != 0 or missing:
        skip = pytest.mark.skip(reason=f"needs root and {', '.join(missing) or 'tools'}")
        for item in items:
            if "tests/deploy" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ssh_key() -> Path:
    return nodes.ssh_key()


@pytest.fixture(scope="session")
def cluster(ssh_key: Path) -> Iterator[tuple[nodes.Node, nodes.Node]]:
    nodes.ensure_base()
    nodes.ensure_bridge()
    control, gpu = nodes.Node("control1", 1), nodes.Node("gpu1", 2)
    hosts = "".join(f"{n.address} {n.name}\n" for n in (control, gpu))
    try:
        for node in (control, gpu):
            node.boot(ssh_key, hosts)
        for node in (control, gpu):
            node.wait_ssh(ssh_key)
        yield control, gpu
    finally:
        for node in (control, gpu):
            node.shutdown()
        nodes.remove_bridge()


@pytest.fixture(scope="session")
def vault_password() -> Path:
    return nodes.WORK / "vault-password"
