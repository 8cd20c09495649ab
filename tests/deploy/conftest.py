"""Booted test nodes for the deployment tests (root, debootstrap and systemd-nspawn needed).

One control node and one GPU node (CPU-only, so vLLM's CPU build) per session, on a private
bridge; torn down at the end. Needs root, and debootstrap, systemd-nspawn and ssh, which
`make bootstrap` installs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import nodes


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
