"""``appliance audit archive`` connects only as the migrations' login: from the settings, or
on a deployed node from ``/etc/appliance/migrate.env``; with neither it archives nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.audit.retention import RetentionError
from appliance.cli import audit_cmds

MIGRATOR = "postgresql+psycopg://appliance_migrator:0wner-Password-123@127.0.0.1:5432/appliance"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What archive_expired was asked for, instead of a database."""
    calls: dict[str, Any] = {}

    def fake_archive(url: str, directory: Path, settings: Any, **_: Any) -> None:
        calls["url"], calls["days"] = url, settings.retention_days

    monkeypatch.setattr(audit_cmds, "archive_expired", fake_archive)
    monkeypatch.delenv("APPLIANCE_SETTINGS_FILE", raising=False)
    monkeypatch.delenv("APPLIANCE_MIGRATION_DATABASE_URL", raising=False)
    return calls


def test_the_nodes_migrate_env_gives_the_migrations_login(
    asked: dict[str, Any], tmp_path: Path
) -> None:
    migrate = tmp_path / "migrate.env"
    migrate.write_text(f"APPLIANCE_MIGRATION_DATABASE_URL={MIGRATOR}\n")
    line = audit_cmds._archive(
        archive_dir=tmp_path / "archives",
        database_url=None,
        node_settings=tmp_path / "none.env",
        migrate_file=migrate,
    )
    assert asked["url"] == MIGRATOR.replace("+psycopg", "")
    assert asked["days"] == 365
    assert line == "nothing older than 365 days up to a checkpoint"


def test_without_the_migrations_login_nothing_is_archived(
    asked: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(RetentionError, match="only the migrations' login may remove audit rows"):
        audit_cmds._archive(
            archive_dir=tmp_path / "archives",
            database_url=None,
            node_settings=tmp_path / "none.env",
            migrate_file=tmp_path / "missing.env",
        )
    assert asked == {}
