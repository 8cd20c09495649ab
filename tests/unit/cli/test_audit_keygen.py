"""``appliance audit keygen``: the checkpoint signing key, created once and never replaced."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from appliance.audit.checkpoint import load_public_key
from appliance.cli.main import app

runner = CliRunner()


def test_keygen_writes_an_owner_only_private_key_and_its_public_half(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.pem"
    result = runner.invoke(app, ["audit", "keygen", str(key)])

    assert result.exit_code == 0, result.output
    public = Path(f"{key}.pub")
    assert result.output.strip() == f"private key {key}, public key {public}"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    load_public_key(public)  # a usable Ed25519 public key


def test_keygen_refuses_to_replace_an_existing_key(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.pem"
    assert runner.invoke(app, ["audit", "keygen", str(key)]).exit_code == 0
    before = key.read_bytes()

    result = runner.invoke(app, ["audit", "keygen", str(key)])
    assert result.exit_code == 1
    assert f"{key} exists; refusing to replace a signing key" in result.output
    assert key.read_bytes() == before


def test_keygen_needs_a_path() -> None:
    result = runner.invoke(app, ["audit", "keygen"])
    assert result.exit_code == 2
    assert "Missing argument 'path'." in result.output
