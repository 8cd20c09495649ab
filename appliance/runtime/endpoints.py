"""``var/endpoints.json``: how tests, benchmarks and scripts find the running local stack.

Written by every ``appliance up`` (also a partial one), from fixed ports and the secrets in
``var/secrets``; it holds passwords, so it is readable by its owner only.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.runtime import postgres_service
from appliance.runtime.demo_users import DEMO_USERS, stored_passwords
from appliance.runtime.paths import DEMO_MODEL_NAME, RuntimePaths
from appliance.runtime.secrets import vllm_api_key, write_private

GATEWAY_URL = "http://127.0.0.1:8080"
WEBUI_URL = "http://127.0.0.1:7860"
VLLM_URL = "http://127.0.0.1:8011"
KEYCLOAK_URL = "http://127.0.0.1:8180"
REALM = "appliance"
ISSUER = f"{KEYCLOAK_URL}/realms/{REALM}"
DEV_CLIENT_ID = "appliance-dev"
WEBUI_CLIENT_ID = "appliance-webui"
# Administrators sign in to the CLI with their own password (direct access grant).
CLI_CLIENT_ID = "appliance-cli"
# The gateway's own service-account client for account management.
ACCOUNTS_CLIENT_ID = "appliance-accounts"


def endpoints(paths: RuntimePaths) -> dict[str, Any]:
    """The document's content (see the shared conventions for its shape)."""
    urls = postgres_service.database_urls(paths)
    passwords = stored_passwords(paths)
    webui_secret = paths.secret("keycloak_webui_client_secret")
    return {
        "gateway_url": GATEWAY_URL,
        "webui_url": WEBUI_URL,
        "backends": [VLLM_URL],
        # The key the backends require; the gateway sends it, tests that reach vLLM directly too.
        "backend_api_key": vllm_api_key(paths),
        "keycloak": {
            "url": KEYCLOAK_URL,
            "realm": REALM,
            "issuer": ISSUER,
            "dev_client_id": DEV_CLIENT_ID,
            "webui_client_id": WEBUI_CLIENT_ID,
            "cli_client_id": CLI_CLIENT_ID,
            "webui_client_secret": (
                webui_secret.read_text(encoding="utf-8").strip() if webui_secret.exists() else None
            ),
        },
        "users": [
            {
                "username": user.username,
                "password": passwords[user.username],
                "roles": list(user.roles),
                "groups": list(user.groups),
            }
            for user in DEMO_USERS
            if user.username in passwords
        ],
        "database_url": urls.gateway,
        "owner_database_url": urls.owner,
        "superuser_socket_dir": str(paths.pg_socket_dir),
        "model": DEMO_MODEL_NAME,
        "settings_file": str(paths.settings_file),
        "logs": str(paths.log_dir),
    }


def write(paths: RuntimePaths) -> dict[str, Any]:
    content = endpoints(paths)
    write_private(paths.endpoints_file, json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    return content
