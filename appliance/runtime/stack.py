"""``appliance up`` / ``down`` / ``status``: the local all-in-one stack, in dependency order.

PostgreSQL, then Keycloak (realm, dev client, demo users), then vLLM with the demo model,
then the database migrations and the gateway, then the web UI. Every step first checks
whether its service already answers, so a second ``up`` only verifies and reprints the
summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import httpx

from appliance.runtime import (
    demo_kb,
    endpoints,
    gateway_service,
    keycloak_service,
    postgres_service,
    vllm_service,
    webui_service,
)
from appliance.runtime.paths import RuntimePaths

Echo = Callable[[str], None]


class Service(StrEnum):
    POSTGRES = "postgres"
    KEYCLOAK = "keycloak"
    VLLM = "vllm"
    GATEWAY = "gateway"
    WEBUI = "webui"


ORDER: tuple[Service, ...] = (
    Service.POSTGRES,
    Service.KEYCLOAK,
    Service.VLLM,
    Service.GATEWAY,
    Service.WEBUI,
)

URLS: dict[Service, str] = {
    Service.POSTGRES: f"{postgres_service.HOST}:{postgres_service.PORT}",
    Service.KEYCLOAK: endpoints.KEYCLOAK_URL,
    Service.VLLM: endpoints.VLLM_URL,
    Service.GATEWAY: endpoints.GATEWAY_URL,
    Service.WEBUI: endpoints.WEBUI_URL,
}


def _started(echo: Echo, name: str, started: bool) -> None:
    echo(f"{name}: {'started' if started else 'already running'}")


def _up_gateway(paths: RuntimePaths, echo: Echo) -> None:
    previous = paths.settings_file.read_bytes() if paths.settings_file.exists() else b""
    gateway_service.render_settings(paths)
    if paths.settings_file.read_bytes() != previous:
        # A running gateway read its settings when it started (a new secret, the replicas'
        # key, another backend): it is started again to read them.
        gateway_service.stop(paths)
    if not gateway_service.available():
        echo("gateway: this checkout has no appliance.gateway.app yet; skipped")
        return
    echo(f"migrations: {gateway_service.migrate(paths)}")
    _started(echo, "gateway", gateway_service.start(paths))
    try:
        echo(f"demo knowledge base: {demo_kb.seed(paths)}")
    except httpx.HTTPError as exc:
        # The stack itself is up; only the demo content is missing, and the next `up` retries.
        echo(f"demo knowledge base: not seeded ({exc})")


def up(paths: RuntimePaths, only: Sequence[Service], echo: Echo) -> dict[str, Any]:
    """Start what is not running (all services, or just ``only``), waiting for each; write
    and return ``var/endpoints.json``."""
    wanted = set(only or ORDER)
    paths.ensure_dirs()
    if Service.POSTGRES in wanted:
        _started(echo, "postgresql", postgres_service.start(paths))
        postgres_service.provision(paths)
    if Service.KEYCLOAK in wanted:
        _started(echo, "keycloak", keycloak_service.start(paths))
        keycloak_service.configure_local(paths)
    if Service.VLLM in wanted:
        if not vllm_service.is_ready(paths):
            echo("vllm: starting (about a minute on CPU)")
        _started(echo, "vllm", vllm_service.start(paths))
    if Service.GATEWAY in wanted:
        _up_gateway(paths, echo)
    if Service.WEBUI in wanted:
        _started(echo, "web UI", webui_service.start(paths))
    return endpoints.write(paths)


def down(paths: RuntimePaths, echo: Echo) -> None:
    """Stop everything, in reverse order."""
    echo(f"web UI: {'stopped' if webui_service.stop(paths) else 'not running'}")
    echo(f"gateway: {'stopped' if gateway_service.stop(paths) else 'not running'}")
    echo(f"vllm: {'stopped' if vllm_service.stop(paths) else 'not running'}")
    echo(f"keycloak: {'stopped' if keycloak_service.stop(paths) else 'not running'}")
    echo(f"postgresql: {'stopped' if postgres_service.stop(paths) else 'not running'}")


def status(paths: RuntimePaths) -> dict[Service, bool]:
    """Whether each service answers its readiness check."""
    return {
        Service.POSTGRES: postgres_service.is_running(paths),
        Service.KEYCLOAK: keycloak_service.is_ready(),
        Service.VLLM: vllm_service.is_ready(paths),
        Service.GATEWAY: gateway_service.is_ready(),
        Service.WEBUI: webui_service.is_ready(),
    }


def summary(paths: RuntimePaths, content: dict[str, Any]) -> list[str]:
    """The lines ``appliance up`` ends with: where everything is, who can sign in, and what
    to try first."""
    lines = [
        "",
        "The appliance is running (loopback only):",
        f"  web UI      {content['webui_url']}",
        f"  gateway     {content['gateway_url']}  (OpenAI-compatible, Keycloak bearer token)",
        f"  vLLM        {', '.join(content['backends'])}  (model {content['model']})",
        f"  Keycloak    {content['keycloak']['url']}  (realm {content['keycloak']['realm']};"
        f" admin password in {paths.secret('keycloak_admin_password')})",
        f"  PostgreSQL  {URLS[Service.POSTGRES]}  (database appliance)",
        "",
        "Demo users (dev client appliance-dev allows password grants):",
    ]
    for user in content["users"]:
        roles = ",".join(user["roles"]) or "(no roles)"
        lines.append(
            f"  {user['username']:10} {user['password']}  {roles:16} {','.join(user['groups'])}"
        )
    lines += [
        "",
        f"Demo knowledge base: {demo_kb.KB_NAME} ({demo_kb.KB_GROUP}, managed by"
        f" {demo_kb.EDITOR}); as zhang.wei, chat with it selected and ask"
        f" {demo_kb.SAMPLE_QUESTION}",
        "",
        f"Endpoints for scripts and tests: {paths.endpoints_file}",
        f"Logs: {paths.log_dir}/<service>.log   Status: appliance status   Stop: make down",
    ]
    return lines
