"""The controller-side site checks, on copies of the shipped example inventories made the
way ops/runbooks/install.md says (cp -r, copy the vault example, edit): what an admin who
skips a step sees, before any node is touched."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from appliance.audit.checkpoint import generate_key
from appliance.cli import deploy_cmds
from appliance.cli.main import app
from appliance.errors import InvalidRequest
from appliance.provision.bundle import BundleSpec, build
from appliance.provision.site_checks import (
    OPTIONAL_SECRETS,
    SECRETS,
    check_inventory,
    is_placeholder,
    weakness,
)

GENERATED = (*SECRETS, *OPTIONAL_SECRETS)

REPO = Path(__file__).resolve().parents[3]
SHAPES = ("single-node", "cluster")
# config.json figures of DeepSeek-R1-Distill-Qwen-32B, as an AWQ checkpoint ships them.
QWEN_32B_AWQ = {
    "architectures": ["Qwen2ForCausalLM"], "num_hidden_layers": 64, "hidden_size": 5120,
    "num_attention_heads": 40, "vocab_size": 152064,
    "quantization_config": {"quant_method": "awq", "bits": 4},
}  # fmt: skip


def _copy(shape: str, tmp_path: Path) -> Path:
    """cp -r inventory/<shape> inventory/<site>; cp vault.yml.example vault.yml."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "inventory" / shape, site)
    vault = site / "group_vars" / "all"
    shutil.copy(vault / "vault.yml.example", vault / "vault.yml")
    return site


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _fill_vault(site: Path) -> dict[str, str]:
    """What the runbook asks: openssl rand -hex 24 for each secret."""
    values = {name: secrets.token_hex(24) for name in GENERATED}
    vault = site / "group_vars" / "all" / "vault.yml"
    for name, value in values.items():
        _edit(vault, f'{name}: "<openssl rand -hex 24>"', f'{name}: "{value}"')
    return values


def _bundle(tmp_path: Path, model_name: str) -> Path:
    key = tmp_path / "keys" / "bundle.pem"
    generate_key(key)
    model = tmp_path / "weights"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(QWEN_32B_AWQ))
    spec = BundleSpec(
        output=tmp_path / "bundle.tar", signing_key=key, version="0.1.0",
        model_dir=model, model_name=model_name,
    )  # fmt: skip
    return build(spec, lambda _: None)


def _offline(site: Path, archive: Path) -> None:
    main = site / "group_vars" / "all" / "main.yml"
    _edit(main, "appliance_offline: false", "appliance_offline: true")
    _edit(main, 'appliance_bundle_archive: ""', f"appliance_bundle_archive: {archive}")
    public_key = archive.parent / "keys" / "bundle.pem.pub"
    _edit(main, 'appliance_bundle_public_key: ""', f"appliance_bundle_public_key: {public_key}")


def _model_key(site: Path, key: str) -> None:
    _edit(site / "group_vars" / "vllm.yml", 'vllm_model_key: ""', f'vllm_model_key: "{key}"')


def _filled(
    shape: str, tmp_path: Path, *, bundle_model: str | None = None, model_key: str | None = None
) -> Path:
    """A copy with its vault filled; offline from a bundle of ``bundle_model`` and with
    ``vllm_model_key`` set when they are given."""
    site = _copy(shape, tmp_path)
    _fill_vault(site)
    if bundle_model is not None:
        _offline(site, _bundle(tmp_path, bundle_model))
    if model_key is not None:
        _model_key(site, model_key)
    return site


@pytest.mark.parametrize("shape", SHAPES)
def test_unedited_vault_example_is_refused_naming_each_secret(shape: str, tmp_path: Path) -> None:
    problems = check_inventory(_copy(shape, tmp_path))
    for name in GENERATED:
        assert [p for p in problems if p.startswith(f"{name} still holds the placeholder")], (
            name,
            problems,
        )
    assert len(problems) == len(GENERATED), problems  # one line per problem, nothing else
    assert all("openssl rand -hex 24" in p for p in problems)


def test_missing_vault_is_refused(tmp_path: Path) -> None:
    site = _copy("single-node", tmp_path)
    (site / "group_vars" / "all" / "vault.yml").unlink()
    problems = check_inventory(site)
    assert [p.split()[0] for p in problems] == list(SECRETS)
    assert all("is not set - copy group_vars/all/vault.yml.example" in p for p in problems)


@pytest.mark.parametrize("shape", SHAPES)
def test_edited_copy_passes(shape: str, tmp_path: Path) -> None:
    assert check_inventory(_filled(shape, tmp_path)) == []


def test_a_vault_from_before_the_api_keys_pepper_passes(tmp_path: Path) -> None:
    """A site installed before API keys has no pepper: it deploys, its keys answer 503."""
    site = _filled("cluster", tmp_path)
    vault = site / "group_vars" / "all" / "vault.yml"
    kept = [line for line in vault.read_text().splitlines() if "api_keys_pepper" not in line]
    vault.write_text("\n".join(kept) + "\n")
    assert check_inventory(site) == []


def test_artifacts_beside_the_inventory_are_not_read_as_hosts(tmp_path: Path) -> None:
    """After a backup, artifacts/ holds binary dumps: they are output, never inventory."""
    site = _filled("cluster", tmp_path)
    backups = site / "artifacts" / "backups" / "20261206T000000Z"
    backups.mkdir(parents=True)
    (backups / "appliance.dump").write_bytes(b"PGDMP\n\x01\x02\nstray words here\n")
    (site / "artifacts" / "internal-ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    assert check_inventory(site) == []


def test_weak_and_placeholder_passwords_are_refused(tmp_path: Path) -> None:
    site = _copy("single-node", tmp_path)
    values = _fill_vault(site)
    vault = site / "group_vars" / "all" / "vault.yml"
    _edit(vault, f'{SECRETS[1]}: "{values[SECRETS[1]]}"', f"{SECRETS[1]}: hunter2")
    _edit(vault, f'{SECRETS[3]}: "{values[SECRETS[3]]}"', f"{SECRETS[3]}: CHANGE_ME")
    problems = check_inventory(site)
    assert problems == [
        f"{SECRETS[1]} is too weak (has 7 characters, needs at least 16) - put the output of "
        "`openssl rand -hex 24` in group_vars/all/vault.yml",
        f"{SECRETS[3]} still holds the placeholder 'CHANGE_ME' - put the output of "
        "`openssl rand -hex 24` in group_vars/all/vault.yml",
    ]


def test_password_rule() -> None:
    assert weakness("a" * 15) == "has 15 characters, needs at least 16"
    assert weakness("abcdefghijklmnopqrst") is not None  # 20 letters of one kind
    assert weakness("abcdefghij0123456789") is None  # two kinds
    assert weakness("abcdefghijklmnopqrstuvwx") is None  # 24 characters
    assert weakness(secrets.token_hex(24)) is None
    for text in ("<openssl rand -hex 24>", "changeme", "CHANGE_ME", "change-me", " "):
        assert is_placeholder(text) or not text.strip(), text


def test_unresolvable_host_is_refused(tmp_path: Path) -> None:
    site = _filled("cluster", tmp_path)
    _edit(site / "hosts.yml", "ansible_host: 192.0.2.22", "ansible_host: gpu2.site.invalid")
    assert check_inventory(site) == [
        "cannot resolve gpu2 (ansible_host gpu2.site.invalid) from the controller - add it to "
        "DNS or /etc/hosts, or set ansible_host to its address in hosts.yml"
    ]


def test_mismatched_model_key_is_refused(tmp_path: Path) -> None:
    site = _filled("single-node", tmp_path, bundle_model="deepseek-r1-awq", model_key="r1")
    assert check_inventory(site) == [
        "appliance1: vllm_model_key 'r1' (DeepSeek-R1 671B) is not the bundle's model "
        "deepseek-r1-awq (R1-Distill-Qwen-32B, awq) - set vllm_model_key: distill-qwen-32b"
    ]


def test_empty_model_key_with_a_known_bundle_model_is_refused(tmp_path: Path) -> None:
    site = _filled("cluster", tmp_path, bundle_model="r1q")
    _edit(site / "group_vars" / "vllm.yml", "vllm_model_name: deepseek-r1", "vllm_model_name: r1q")
    problems = check_inventory(site)
    assert problems == [
        "gpu1, gpu2: vllm_model_key is empty, so the planner would choose a model for 8xH20 "
        "instead of the bundle's r1q (R1-Distill-Qwen-32B, awq) - set vllm_model_key: "
        "distill-qwen-32b"
    ]


def test_model_name_missing_from_the_bundle_is_refused(tmp_path: Path) -> None:
    site = _filled("single-node", tmp_path, bundle_model="other")
    assert check_inventory(site) == [
        "appliance1: vllm_model_name 'deepseek-r1-awq' is not in the bundle (it holds other) - "
        "set vllm_model_name to the bundle's model directory"
    ]


def test_offline_site_without_the_bundle_public_key_is_refused(tmp_path: Path) -> None:
    site = _filled("single-node", tmp_path, bundle_model="deepseek-r1-awq")
    main = site / "group_vars" / "all" / "main.yml"
    public_key = tmp_path / "keys" / "bundle.pem.pub"
    _edit(main, f"appliance_bundle_public_key: {public_key}", 'appliance_bundle_public_key: ""')
    problems = check_inventory(site)
    assert problems == [
        "appliance_bundle_public_key (empty) is not a file on the controller - set it to the "
        "bundle-signing .pub that came with the bundle; each node checks the bundle against it "
        "before installing"
    ]
    _edit(main, 'appliance_bundle_public_key: ""', "appliance_bundle_public_key: /nowhere.pub")
    assert check_inventory(site)[0].startswith("appliance_bundle_public_key /nowhere.pub is not")


def test_offline_copy_with_the_bundle_model_and_an_encrypted_vault_passes(tmp_path: Path) -> None:
    site = _filled(
        "single-node", tmp_path, bundle_model="deepseek-r1-awq", model_key="distill-qwen-32b"
    )
    password = tmp_path / "vault-pass"
    password.write_text(secrets.token_hex(16) + "\n")
    vault = site / "group_vars" / "all" / "vault.yml"
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt",
         f"--vault-password-file={password}", str(vault)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert vault.read_text().startswith("$ANSIBLE_VAULT")
    assert check_inventory(site, password) == []
    with pytest.raises(InvalidRequest, match="vault-password-file"):
        check_inventory(site)


def test_deploy_with_the_unedited_vault_stops_before_ansible_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = _copy("cluster", tmp_path)

    def no_run(*_: Any, **__: Any) -> None:
        raise AssertionError("ansible-runner started although the inventory is not ready")

    monkeypatch.setattr(deploy_cmds, "run_playbook", no_run)
    for command in ("preflight", "deploy", "upgrade", "add-gpu-node"):
        result = CliRunner().invoke(app, [command, "-i", str(site)])
        assert result.exit_code == 1, result.output
        text = " ".join(result.output.split())
        refusal = f"is not ready ({len(GENERATED)} problems); no node was touched"
        assert f"the inventory {site} {refusal}" in text
        for name in GENERATED:
            assert f"- {name} still holds the placeholder '<openssl rand -hex 24>'" in text
