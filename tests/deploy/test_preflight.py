"""Preflight against booted nodes: a node that is too small fails with the right message
before anything is installed, an inventory whose vault is the unedited example is refused
on the controller before any node is touched, and a bundle with one altered package is
refused on every node before anything is installed from it, through the `appliance` CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.provision.site_checks import OPTIONAL_SECRETS, SECRETS
from tests.support.deploy import bundle, deployed, nodes

# The first test builds the base root filesystem and the bundle and boots the nodes.
pytestmark = pytest.mark.timeout(1800)

APPLIANCE = str(nodes.ROOT / ".venv" / "bin" / "appliance")


def _appliance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [APPLIANCE, *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_too_small_node_fails_before_anything_is_installed(
    cluster: nodes.Cluster, ssh_key: Path, vault_password: Path, tmp_path: Path
) -> None:
    control, gpu = cluster
    inventory = nodes.write_inventory(
        tmp_path / "inv", [control], [gpu], ssh_key, {"appliance_min_memory_gb": 4096}
    )
    nodes.write_vault(inventory, vault_password)
    vault = f"--vault-password-file={vault_password}"

    result = _appliance("preflight", "-i", str(inventory), vault)
    assert result.returncode == 1, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    for node in ("control1", "gpu1"):
        assert f"{node}: failed at task 'Stop when the node is not fit'" in err
    assert "need at least 4096 GiB (appliance_min_memory_gb)" in err
    assert "full log:" in err

    deployed = _appliance("deploy", "-i", str(inventory), vault)
    assert deployed.returncode == 1
    assert "need at least 4096 GiB" in " ".join(deployed.stderr.split())
    for node in (control, gpu):
        probe = node.ssh("test -e /etc/appliance || test -e /opt/appliance", ssh_key)
        assert probe.returncode == 1, f"{node.name} was changed before preflight passed"


def test_unedited_vault_is_refused_before_any_node_changes(
    cluster: nodes.Cluster, ssh_key: Path, tmp_path: Path
) -> None:
    """The runbook's cp of vault.yml.example, not edited: every secret named, nothing run."""
    control, gpu = cluster
    inventory = nodes.write_inventory(tmp_path / "inv", [control], [gpu], ssh_key, {})
    example = nodes.ROOT / "inventory" / "cluster" / "group_vars" / "all" / "vault.yml.example"
    shutil.copy(example, inventory / "group_vars" / "all" / "vault.yml")

    for command in ("preflight", "deploy"):
        result = _appliance(command, "-i", str(inventory))
        assert result.returncode == 1, result.stdout + result.stderr
        err = " ".join(result.stderr.split())
        assert "no node was touched" in err, err
        for name in (*SECRETS, *OPTIONAL_SECRETS):
            assert f"{name} still holds the placeholder '<openssl rand -hex 24>'" in err, err
        assert "full log:" not in err  # ansible-runner never started
    for node in (control, gpu):
        probe = node.ssh("test -e /etc/appliance || test -e /opt/appliance", ssh_key)
        assert probe.returncode == 1, f"{node.name} was changed although the vault was refused"


def test_fit_nodes_pass_preflight_with_a_report(
    cluster: nodes.Cluster, ssh_key: Path, vault_password: Path, tmp_path: Path
) -> None:
    control, gpu = cluster
    inventory = nodes.write_inventory(tmp_path / "inv", [control], [gpu], ssh_key, {})
    nodes.write_vault(inventory, vault_password)
    result = _appliance(
        "preflight", "-i", str(inventory), f"--vault-password-file={vault_password}"
    )
    assert result.returncode == 0, result.stderr
    assert "preflight: done" in result.stderr
    # Every node's report on the terminal, in plain text, before the summary.
    for node in ("control1", "gpu1"):
        assert f"preflight report for {node}:" in result.stderr
    assert "\x1b[" not in result.stderr
    report = result.stderr.split("preflight report for gpu1:")[1]
    assert "memory" in report and "all 2 nodes resolve" in report
    log = result.stderr.split("full log:")[1].split()[0]
    text = Path(log).read_text()
    assert "memory" in text and "all 2 nodes resolve" in text


def test_tampered_bundle_is_refused_before_anything_is_installed(
    cluster: nodes.Cluster, built: Path, ssh_key: Path, vault_password: Path, tmp_path: Path
) -> None:
    """One byte of one Debian package changed on the nodes: the manifest's signature still
    holds, the package's SHA-256 does not; each node names it and installs nothing."""
    control, gpu = cluster
    deb = sorted((built / "debs").glob("chrony_*.deb"))[0]
    altered = f"debs/{deb.name}"
    inventory = nodes.write_inventory(
        tmp_path / "inv", [control], [gpu], ssh_key,
        {
            "appliance_offline": True,
            "appliance_bundle_archive": str(built),
            "appliance_bundle_public_key": str(bundle.PUBLIC_KEY),
            "vllm_model_name": bundle.MODEL_NAME,
        },
    )  # fmt: skip
    nodes.write_vault(inventory, vault_password)
    try:
        for node in cluster:
            bundle.place_altered(built, node.rootfs, deployed.BUNDLE_DIR, altered)
        result = _appliance(
            "deploy", "-i", str(inventory), f"--vault-password-file={vault_password}"
        )
        assert result.returncode == 1, result.stdout + result.stderr
        err = " ".join(result.stderr.split())
        for name in ("control1", "gpu1"):
            assert (
                f"{name}: failed at task 'Verify the offline bundle against its signed manifest': "
                f"the offline bundle in {deployed.BUNDLE_DIR} is not the one its builder signed, "
                f"so nothing is installed from it: altered: {altered} -"
            ) in err, err
        for node in cluster:
            probe = node.ssh("test -e /etc/apt/sources.list.d/appliance-bundle.list", ssh_key)
            assert probe.returncode == 1, f"{node.name} uses the refused bundle's packages"
            for package in ("chrony", "nftables", "acl", "unzip"):
                installed = node.ssh(f"dpkg -s {package}", ssh_key)
                assert installed.returncode == 1, f"{package} was installed on {node.name}"
    finally:
        for node in cluster:
            bundle.remove(node.rootfs, deployed.BUNDLE_DIR)
