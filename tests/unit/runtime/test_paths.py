"""Where the runtime keeps its state: everything under ``var/`` of one root."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from appliance.runtime.paths import DEMO_MODEL_NAME, RuntimePaths


def test_every_file_lives_under_var(paths: RuntimePaths) -> None:
    var = paths.root / "var"
    assert paths.log("gateway") == var / "log" / "gateway.log"
    assert paths.pid("vllm") == var / "run" / "vllm.pid"
    assert paths.secret("pg_owner_password") == var / "secrets" / "pg_owner_password"
    assert paths.endpoints_file == var / "endpoints.json"
    assert paths.settings_file == var / "appliance.env"
    assert paths.pg_data == var / "pg" / "data"
    assert paths.model_dir == var / "models" / DEMO_MODEL_NAME
    assert paths.vllm_python == var / "vllm-venv" / "bin" / "python"
    assert paths.project_bin == paths.root / ".venv" / "bin"


def test_the_state_folders_are_created_with_secrets_owner_only(paths: RuntimePaths) -> None:
    paths.ensure_dirs()
    assert paths.log_dir.is_dir() and paths.run_dir.is_dir()
    assert stat.S_IMODE(paths.secrets_dir.stat().st_mode) == 0o700


def test_appliance_root_moves_the_whole_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLIANCE_ROOT", str(tmp_path))
    assert RuntimePaths.default().var == tmp_path.resolve() / "var"


def test_without_appliance_root_the_checkout_is_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLIANCE_ROOT", raising=False)
    root = RuntimePaths.default().root
    assert (root / "appliance" / "runtime" / "paths.py").is_file()
