"""``appliance audit verify`` with no arguments on a deployed node reads the node's settings
file (database URL, checkpoint key); elsewhere it keeps the local runtime's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from appliance.audit.checkpoint import generate_key, load_public_key
from appliance.audit.verify import VerifyReport
from appliance.cli import audit_cmds

NODE_URL = "postgresql+psycopg://appliance_gateway:s3cret-Password-123@127.0.0.1:5432/appliance"


def _raw(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What verify_url was asked for, instead of a database."""
    calls: dict[str, Any] = {}

    def fake_verify_url(url: str, *, public_keys: list[Any], **_: Any) -> VerifyReport:
        calls["url"], calls["keys"] = url, public_keys
        return VerifyReport(ok=True, count=0)

    monkeypatch.setattr(audit_cmds, "verify_url", fake_verify_url)
    monkeypatch.delenv("APPLIANCE_SETTINGS_FILE", raising=False)
    for name in ("APPLIANCE_DATABASE_URL", "APPLIANCE_ENVIRONMENT",
                 "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return calls


def _node_settings(tmp_path: Path) -> tuple[Path, Path]:
    """A settings file as the gateway role renders it, and its checkpoint key."""
    key = tmp_path / "audit-checkpoint.pem"
    generate_key(key)
    env = tmp_path / "appliance.env"
    env.write_text(
        "APPLIANCE_ENVIRONMENT=production\n"
        f"APPLIANCE_DATABASE_URL={NODE_URL}\n"
        f"APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE={key}\n"
    )
    return env, key


def test_on_a_node_no_arguments_use_the_node_settings(tmp_path: Path, seen: dict[str, Any]) -> None:
    env, key = _node_settings(tmp_path)
    report = audit_cmds._verify(database_url=None, dump=None, public_keys=[], node_settings=env)
    assert report.ok
    assert seen["url"] == NODE_URL
    assert [_raw(k) for k in seen["keys"]] == [_raw(load_public_key(key))]


def test_given_url_and_key_win_over_the_node_settings(tmp_path: Path, seen: dict[str, Any]) -> None:
    env, _ = _node_settings(tmp_path)
    other = tmp_path / "other.pem"
    public = generate_key(other)
    audit_cmds._verify(
        database_url="postgresql://auditor@db/appliance", dump=None, public_keys=[public],
        node_settings=env,
    )  # fmt: skip
    assert seen["url"] == "postgresql://auditor@db/appliance"
    assert [_raw(k) for k in seen["keys"]] == [_raw(load_public_key(public))]


def test_without_a_node_settings_file_the_local_defaults_stay(
    tmp_path: Path, seen: dict[str, Any]
) -> None:
    audit_cmds._verify(
        database_url=None, dump=None, public_keys=[], node_settings=tmp_path / "absent.env"
    )
    assert seen["url"] == "postgresql+psycopg://appliance_gateway@127.0.0.1:55432/appliance"
    assert seen["keys"] == []


def test_the_settings_environment_wins_over_the_node_file(
    tmp_path: Path, seen: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, _ = _node_settings(tmp_path)
    monkeypatch.setenv("APPLIANCE_SETTINGS_FILE", str(tmp_path / "runtime.env"))
    monkeypatch.setenv("APPLIANCE_DATABASE_URL", "postgresql://runtime@127.0.0.1:55432/x")
    audit_cmds._verify(database_url=None, dump=None, public_keys=[], node_settings=env)
    assert seen["url"] == "postgresql://runtime@127.0.0.1:55432/x"
