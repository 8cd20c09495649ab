"""The web UI holds no database credentials: its settings have no database URL, the local
runtime gives it none, and its only secrets are its OIDC client secret and session key.
Its users' conversations are the gateway's, reached with each user's own token."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.runtime import webui_service
from appliance.runtime.paths import RuntimePaths
from webui.config import WebUISettings


def test_the_settings_have_no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_WEBUI_DATABASE_URL", "postgresql+psycopg://x:y@db/appliance")
    settings = WebUISettings()
    assert not [name for name in WebUISettings.model_fields if "database" in name.lower()]
    assert "postgresql" not in settings.model_dump_json()


def test_its_only_secrets_are_the_client_secret_and_the_session_key() -> None:
    secret_files = {name for name in WebUISettings.model_fields if name.endswith("_file")}
    assert secret_files == {"client_secret_file", "session_key_file"}


def test_the_local_runtime_gives_it_no_database(tmp_path: Path) -> None:
    env = webui_service.environment(RuntimePaths(tmp_path))
    assert not [key for key in env if "DATABASE" in key or "POSTGRES" in key]
    assert not [value for value in env.values() if "postgresql" in value]
    assert env["APPLIANCE_WEBUI_CLIENT_SECRET_FILE"].endswith("keycloak_webui_client_secret")
    assert env["APPLIANCE_WEBUI_SESSION_KEY_FILE"].endswith("webui_session_key")
