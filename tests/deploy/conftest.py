"""Booted test nodes and the one deployed site the deployment tests share.

One control node and one GPU node (CPU-only, so vLLM's CPU build) per run, on a private
bridge, and a second GPU node added to the running site; torn down at the end. The online
install (test_online) has its own single node and mirror node. The base root filesystem
and the offline bundle are built once per run, side by side. The site is deployed once
(from the bundle, cut off from everything but each other) and shared by the compliance,
chat, idempotence, status, add-a-node, upgrade, audit anchor and backup tests; the restore
test, last, replaces the control node by a fresh machine. Needs root, and debootstrap,
systemd-nspawn and ssh, which `make bootstrap` installs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.deploy import bundle, deployed, nodes, runbook
from tests.support.deploy.deployed import Site

# The online single-node install first (its node and mirror are gone when it ends), then
# preflight refusals (on cluster nodes where nothing is installed yet), then the deployed
# site's tests (the content-security and compliance features on the site as first
# deployed, before a node is added or the site upgraded), then the restore onto a fresh
# control node, which ends the site.
MODULE_ORDER = (
    "test_online",
    "test_preflight",
    "test_compliance_site",
    "test_api_keys_site",
    "test_site",
    "test_browser",
    "test_audit_anchor",
    "test_backup_restore",
)


def _free_disk() -> str:
    free = shutil.disk_usage(nodes.ROOT).free / 2**30
    return f"free disk under {nodes.WORK.parent}: {free:.1f} GiB"


def pytest_report_header() -> str:
    """The nodes, the bundle and the mirror take tens of GiB: a run that fails for want of
    space says so at its top and its bottom."""
    return _free_disk()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(_free_disk())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: the order within a module stays


@pytest.fixture(scope="session")
def ssh_key() -> Path:
    return nodes.ssh_key()


@pytest.fixture(scope="session")
def built() -> Path:
    """The base root filesystem and the offline bundle, built at the same time."""
    with ThreadPoolExecutor(2) as pool:
        base = pool.submit(nodes.ensure_base)
        made = pool.submit(bundle.ensure_bundle)
        base.result()
        return made.result()


@pytest.fixture(scope="session")
def cluster(ssh_key: Path, built: Path) -> Iterator[nodes.Cluster]:
    nodes.ensure_bridge()
    booted = nodes.Cluster(ssh_key, nodes.Node("control1", 1), nodes.Node("gpu1", 2))
    try:
        booted.boot()
        yield booted
    finally:
        booted.shutdown()
        nodes.remove_bridge()


@pytest.fixture(scope="session")
def vault_password() -> Path:
    """The runbook's ``~/.appliance-vault-pass``, in the controller home of the test run."""
    return runbook.VAULT_PASSWORD


@pytest.fixture(scope="session")
def site(cluster: nodes.Cluster, built: Path, ssh_key: Path, vault_password: Path) -> Site:
    """`appliance deploy` from the offline bundle of a copy of inventory/cluster made as the
    install runbook says: (inventory, vault secrets, the run)."""
    for node in cluster:
        bundle.place(built, node.rootfs, deployed.BUNDLE_DIR)
    # Under var/deploy/, left after the run: its artifacts/ holds the CA and the backups.
    inventory = nodes.WORK / "inventory"
    secrets_ = runbook.make_site(
        "cluster",
        inventory,
        # The GPU node also receives the audit checkpoints (test_audit_anchor).
        {"control": [cluster.control], "vllm": [cluster.gpu], "audit_anchor": [cluster.gpu]},
        runbook.site_settings(ssh_key, cluster.control)
        | {
            "appliance_offline": True,
            # The bundle as built (unpacked, "delivered on a disk"): the controller-side
            # checks read its manifest and model; the nodes already hold it at the example's
            # appliance_bundle_dir, so it is not copied.
            "appliance_bundle_archive": str(built),
            "appliance_bundle_public_key": str(bundle.PUBLIC_KEY),
        },
    )
    first = deployed.deploy(inventory, vault_password)
    deployed.require_ok(first, cluster, cluster.key)
    deployed.add_user(cluster.control, ssh_key, secrets_["vault_keycloak_admin_password"])
    return inventory, secrets_, first
