"""The web UI's settings: where the gateway and Keycloak are, and its own secrets.

Its only secrets are its OIDC client secret and the session cookie's signing key: it holds
no database credentials (its users' conversations are the gateway's, reached with each
user's own token), so a compromised web UI cannot read or write the audit log or the
knowledge bases behind the gateway's back.

Read from ``APPLIANCE_WEBUI_*`` environment variables (the local runtime and Ansible set
them). Secrets are read from files under ``var/secrets`` so they never sit in a process
listing or a committed file.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

SESSION_KEY_BYTES = 32


class WebUISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APPLIANCE_WEBUI_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 7860
    # The URL the browser uses; Keycloak redirects back to it after sign-in and sign-out.
    public_url: str = "http://127.0.0.1:7860"
    gateway_url: str = "http://127.0.0.1:8080"
    issuer: str = "http://127.0.0.1:8180/realms/appliance"
    client_id: str = "appliance-webui"
    client_secret_file: Path = Path("var/secrets/keycloak_webui_client_secret")
    # Signs the session cookie; generated on first start when missing.
    session_key_file: Path = Path("var/secrets/webui_session_key")
    # Refresh the access token when it has less than this many seconds left.
    refresh_margin_s: int = 60
    http_timeout_s: float = 10.0
    # Generation is slow on CPU: a whole answer may take minutes.
    chat_timeout_s: float = 600.0
    max_tokens: int = 1024

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def client_secret(self) -> str:
        return self.client_secret_file.read_text(encoding="utf-8").strip()

    def session_key(self) -> bytes:
        """The cookie signing key, created (mode 0600) on first use."""
        path = self.session_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(SESSION_KEY_BYTES) + "\n", encoding="ascii")
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
