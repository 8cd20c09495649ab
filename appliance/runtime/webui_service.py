"""The web UI for the local runtime: ``python -m webui`` on 127.0.0.1:7860.

It signs users in through Keycloak as the confidential client ``appliance-webui`` (its
secret was saved by the Keycloak step) and reaches everything else, its users'
conversations included, through the gateway with each user's own token. Its environment
names its two secrets (the client secret and the session key) and no database: a
compromised web UI cannot read or write the audit log or the knowledge bases directly.
"""

from __future__ import annotations

from appliance.runtime import process
from appliance.runtime.endpoints import GATEWAY_URL, ISSUER, WEBUI_CLIENT_ID, WEBUI_URL
from appliance.runtime.paths import RuntimePaths

SERVICE = "webui"
START_TIMEOUT_S = 120.0


def is_ready() -> bool:
    return process.answers(f"{WEBUI_URL}/healthz")


def environment(paths: RuntimePaths) -> dict[str, str]:
    """The web UI's settings (``APPLIANCE_WEBUI_*``) and the switches that keep it offline."""
    return {
        "APPLIANCE_WEBUI_PUBLIC_URL": WEBUI_URL,
        "APPLIANCE_WEBUI_GATEWAY_URL": GATEWAY_URL,
        "APPLIANCE_WEBUI_ISSUER": ISSUER,
        "APPLIANCE_WEBUI_CLIENT_ID": WEBUI_CLIENT_ID,
        "APPLIANCE_WEBUI_CLIENT_SECRET_FILE": str(paths.secret("keycloak_webui_client_secret")),
        "APPLIANCE_WEBUI_SESSION_KEY_FILE": str(paths.secret("webui_session_key")),
        # The CPU demo model writes a few tokens a second: keep its answers short enough
        # that a cited answer (citations arrive after the last token) comes within minutes.
        "APPLIANCE_WEBUI_MAX_TOKENS": "256",
        # An appliance never phones home.
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }


def start(paths: RuntimePaths) -> bool:
    """Start the web UI unless it already answers; returns whether it was started now."""
    if is_ready():
        return False
    process.launch(
        paths,
        SERVICE,
        [str(paths.project_bin / "python"), "-m", "webui"],
        what="web UI",
        ready=is_ready,
        timeout_s=START_TIMEOUT_S,
        env=environment(paths),
        cwd=paths.root,
    )
    return True


def stop(paths: RuntimePaths) -> bool:
    return process.stop_pid_file(paths.pid(SERVICE), timeout_s=15.0)
