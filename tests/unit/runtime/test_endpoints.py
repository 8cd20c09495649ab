"""``var/endpoints.json``: how tests and scripts find the running stack, and its passwords."""

from __future__ import annotations

import json
import stat

from appliance.runtime import endpoints
from appliance.runtime.paths import DEMO_MODEL_NAME, RuntimePaths
from appliance.runtime.secrets import save_json_secrets, write_private


def test_the_file_names_every_service_and_is_owner_only(paths: RuntimePaths) -> None:
    written = endpoints.write(paths)

    assert json.loads(paths.endpoints_file.read_text(encoding="utf-8")) == written
    assert stat.S_IMODE(paths.endpoints_file.stat().st_mode) == 0o600
    assert written["gateway_url"] == "http://127.0.0.1:8080"
    assert written["webui_url"] == "http://127.0.0.1:7860"
    assert written["backends"] == ["http://127.0.0.1:8011"]
    assert written["keycloak"]["issuer"] == "http://127.0.0.1:8180/realms/appliance"
    assert written["keycloak"]["dev_client_id"] == "appliance-dev"
    assert written["model"] == DEMO_MODEL_NAME
    assert written["settings_file"] == str(paths.settings_file)


def test_database_urls_carry_the_generated_passwords(paths: RuntimePaths) -> None:
    written = endpoints.write(paths)
    gateway_pw = paths.secret("pg_gateway_password").read_text(encoding="utf-8").strip()
    owner_pw = paths.secret("pg_owner_password").read_text(encoding="utf-8").strip()
    assert written["database_url"] == (
        f"postgresql+psycopg://appliance_gateway:{gateway_pw}@127.0.0.1:55432/appliance"
    )
    assert written["owner_database_url"].startswith(
        f"postgresql+psycopg://appliance_migrator:{owner_pw}@"
    )
    # A second write reuses the same passwords.
    assert endpoints.write(paths)["database_url"] == written["database_url"]


def test_only_demo_users_with_a_password_are_listed(paths: RuntimePaths) -> None:
    assert endpoints.write(paths)["users"] == []
    save_json_secrets(paths.secret("demo_users.json"), {"li.na": "pw"})
    assert endpoints.write(paths)["users"] == [
        {
            "username": "li.na",
            "password": "pw",
            "roles": ["staff", "kb-editor"],
            "groups": ["/dept/finance"],
        }
    ]


def test_the_web_uis_client_secret_appears_once_keycloak_saved_it(paths: RuntimePaths) -> None:
    assert endpoints.write(paths)["keycloak"]["webui_client_secret"] is None
    write_private(paths.secret("keycloak_webui_client_secret"), "abc\n")
    assert endpoints.write(paths)["keycloak"]["webui_client_secret"] == "abc"
