"""``appliance up`` / ``down`` / ``status``: the local all-in-one stack, in dependency order.

PostgreSQL, then Keycloak (realm, dev client, demo users), then vLLM with the demo model,
then the database migrations and the gateway. Every step first checks whether its service
already answers, so a second ``up`` only verifies and reprints the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from appliance.runtime import endpoints, keycloak, postgres, vllm, webui
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


def _started(echo: Echo, name: str, started: bool) -> None:
    echo(f"{name}: {'started' if started else 'already running'}")


def up(paths: RuntimePaths, only: Sequence[Service], echo: Echo) -> None:
    """Start what is not running (all services, or just ``only``), waiting for each."""
    wanted = set(only or ORDER)
    paths.ensure_dirs()
    if Service.POSTGRES in wanted:
        _started(echo, "postgresql", postgres.start(paths))
        postgres.provision(paths)
    if Service.KEYCLOAK in wanted:
        _started(echo, "keycloak", keycloak.start(paths))
        keycloak.configure_local(paths)
    if Service.VLLM in wanted:
        if not vllm.is_ready():
            echo("vllm: starting (about a minute on CPU)")
        _started(echo, "vllm", vllm.start(paths))
    if Service.WEBUI in wanted:
        _started(echo, "web UI", webui.start(paths))
    endpoints.write(paths)
    echo(f"endpoints: {paths.endpoints_file}")
    echo(f"web UI: {endpoints.WEBUI_URL}")


def down(paths: RuntimePaths, echo: Echo) -> None:
    """Stop everything, in reverse order."""
    echo(f"web UI: {'stopped' if webui.stop(paths) else 'not running'}")
    echo(f"vllm: {'stopped' if vllm.stop(paths) else 'not running'}")
    echo(f"keycloak: {'stopped' if keycloak.stop(paths) else 'not running'}")
    echo(f"postgresql: {'stopped' if postgres.stop(paths) else 'not running'}")


def status(paths: RuntimePaths) -> dict[Service, bool]:
    return {
        Service.POSTGRES: postgres.is_running(paths),
        Service.KEYCLOAK: keycloak.is_ready(),
        Service.WEBUI: webui.is_ready(),
        Service.VLLM: vllm.is_ready(),
    }
