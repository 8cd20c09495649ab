"""The gateway for the local runtime: settings file, migrations, then uvicorn on 127.0.0.1:8080.

``var/appliance.env`` is the one settings file (mode 0600, it holds database passwords);
the gateway reads it through ``APPLIANCE_SETTINGS_FILE``, exactly as it reads the file
Ansible renders on a deployed node.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

from appliance.audit.checkpoint import generate_key
from appliance.runtime import keycloak_service, postgres_service, process
from appliance.runtime.endpoints import DEV_CLIENT_ID, GATEWAY_URL, ISSUER, VLLM_URL
from appliance.runtime.paths import RuntimePaths
from appliance.runtime.secrets import password, vllm_api_key, write_private
from appliance.settings import KeycloakSettings

SERVICE = "gateway"
APP_MODULE = "appliance.gateway.app"
START_TIMEOUT_S = 120.0
# One worker per core of the 2-core reference machine: on a quiet machine two workers
# served about twice the audited requests of one (ops/benchmarks/gateway-overhead.md).
WORKERS = 2
MIGRATION_TIMEOUT_S = 300.0


def local_allowed_clients() -> str:
    """The clients the local gateway accepts, as the settings file spells a list: the
    defaults plus the runtime's password-grant client, which only a local install has."""
    return json.dumps([*KeycloakSettings().allowed_clients, DEV_CLIENT_ID], separators=(",", ":"))


def checkpoint_key(paths: RuntimePaths) -> str:
    """The Ed25519 key that signs audit checkpoints (public half next to it, ``.pub``)."""
    key = paths.secret("audit_checkpoint_key.pem")
    if not key.exists():
        generate_key(key)
    return str(key)


def render_settings(paths: RuntimePaths) -> dict[str, str]:
    """Write ``var/appliance.env`` and return its variables."""
    urls = postgres_service.database_urls(paths)
    values = {
        "APPLIANCE_ENVIRONMENT": "development",
        "APPLIANCE_DATABASE_URL": urls.gateway,
        "APPLIANCE_MIGRATION_DATABASE_URL": urls.owner,
        "APPLIANCE_BACKENDS": VLLM_URL,
        "APPLIANCE_BACKEND_API_KEY": vllm_api_key(paths),
        "APPLIANCE_KEYCLOAK__ISSUER": ISSUER,
        "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": checkpoint_key(paths),
        # The pepper of personal API keys' hashes (appliance.apikeys), kept across starts.
        "APPLIANCE_API_KEYS__PEPPER": password(paths.secret("api_keys_pepper")),
    }
    # Saved by keycloak_service.configure_local, which `appliance up` runs before this.
    accounts_secret = paths.secret(keycloak_service.ACCOUNTS_SECRET_FILE)
    if accounts_secret.exists():
        values["APPLIANCE_KEYCLOAK__ACCOUNTS_CLIENT_SECRET"] = accounts_secret.read_text(
            encoding="utf-8"
        ).strip()
    text = "# Rendered by `appliance up`; rewritten on every start.\n" + "".join(
        f"{name}={value}\n" for name, value in values.items()
    )
    write_private(paths.settings_file, text)
    return values


def _settings_env(paths: RuntimePaths) -> dict[str, str]:
    return {"APPLIANCE_SETTINGS_FILE": str(paths.settings_file)}


def migrate(paths: RuntimePaths) -> str:
    """Run ``appliance db upgrade`` as the migrations' login; returns what it printed.

    Raises ``ServiceError`` when the migrations fail (the gateway must not start on a
    schema it does not expect). A checkout without the ``db`` commands (an older one) gets a
    message instead: there is nothing to migrate.
    """
    env = {
        **os.environ,
        **_settings_env(paths),
        "APPLIANCE_MIGRATION_DATABASE_URL": postgres_service.database_urls(paths).owner,
    }
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(paths.project_bin / "appliance"), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=MIGRATION_TIMEOUT_S,
    )
    output = (result.stdout + result.stderr).strip()
    with paths.log("migrations").open("a", encoding="utf-8") as log:
        log.write(output + "\n")
    if result.returncode != 0 and "No such command 'db'" in output:
        return "this checkout has no `appliance db upgrade`; skipped"
    if result.returncode != 0:
        raise process.ServiceError(
            f"database migrations failed: {output[-500:]} (see {paths.log('migrations')})"
        )
    return output


def available() -> bool:
    """Whether this checkout has the gateway application at all."""
    return importlib.util.find_spec(APP_MODULE) is not None


def is_ready() -> bool:
    return process.answers(f"{GATEWAY_URL}/healthz")


def start(paths: RuntimePaths) -> bool:
    """Start the gateway unless it already answers; returns whether it was started now."""
    if is_ready():
        return False
    argv = [
        str(paths.project_bin / "python"),
        "-m", "uvicorn",
        "--factory", f"{APP_MODULE}:create_app",
        "--host", "127.0.0.1",
        "--port", "8080",
        "--workers", str(WORKERS),
        "--no-server-header",
        "--no-access-log",
    ]  # fmt: skip
    process.launch(
        paths,
        SERVICE,
        argv,
        what="gateway",
        ready=is_ready,
        timeout_s=START_TIMEOUT_S,
        env=_settings_env(paths),
    )
    return True


def stop(paths: RuntimePaths) -> bool:
    return process.stop_pid_file(paths.pid(SERVICE), timeout_s=30.0)
