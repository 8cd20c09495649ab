"""Secrets the runtime generates: owner-only files, generated once and then reused."""

from __future__ import annotations

import stat
from pathlib import Path

from appliance.runtime.secrets import (
    json_secrets,
    new_password,
    password,
    save_json_secrets,
    write_private,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_file_is_owner_only_and_its_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "secret"
    write_private(path, "s3cret\n")
    assert path.read_text(encoding="utf-8") == "s3cret\n"
    assert _mode(path) == 0o600


def test_rewriting_a_file_that_others_could_read_makes_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old and long", encoding="utf-8")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text(encoding="utf-8") == "new"
    assert _mode(path) == 0o600


def test_a_password_is_generated_on_first_use_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "pg_owner_password"
    first = password(path)
    assert password(path) == first
    assert path.read_text(encoding="utf-8") == first + "\n"
    assert _mode(path) == 0o600


def test_passwords_are_long_distinct_and_safe_in_a_database_url() -> None:
    generated = {new_password() for _ in range(20)}
    assert len(generated) == 20
    for value in generated:
        assert len(value) >= 32
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_secrets_map_round_trips_and_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "demo_users.json"
    assert json_secrets(path) == {}
    save_json_secrets(path, {"li.na": "pw1", "zhang.wei": "pw2"})
    assert json_secrets(path) == {"li.na": "pw1", "zhang.wei": "pw2"}
    assert _mode(path) == 0o600
