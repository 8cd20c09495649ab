"""Gateway processes the tests start (the working tree's code, uvicorn ``--factory``), and
the chat body they send.

Each binds a free port on 127.0.0.1 with its own settings overrides, so a test can give one
gateway its own limits, database or backends without touching the shared one on 8080.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from appliance.runtime.gateway_service import local_allowed_clients
from tests.support.paths import SETTINGS_FILE
from tests.support.process import Process, answers, free_port, wait_until
from tests.support.proxy import TcpProxy

if TYPE_CHECKING:
    from tests.support.postgres.cluster import ScratchPostgres

APP = "appliance.gateway.app:create_app"


def chat_body(model: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": stream,
        **extra,
    }


class GatewayProcess(Process):
    """The gateway under uvicorn, as the runtime starts it (``--workers``), on its own port
    with its own settings overrides; returned once it is ready.

    ``settings_file``: whether the running appliance's settings file (``var/appliance.env``)
    fills in what the overrides leave out; ``uvicorn_args`` go after the usual ones. With
    ``wait`` off it is returned once started, for the caller to start something else meanwhile
    and call ``wait_ready`` (the gateway's start takes seconds of CPU: imports, the embedding
    model).
    """

    def __init__(
        self,
        settings_env: Mapping[str, str],
        *,
        workers: int = 1,
        name: str = "chaos-gateway",
        timeout_s: float = 120,
        settings_file: bool = True,
        uvicorn_args: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        # The tests' tokens come from the runtime's password-grant client, which only the
        # local runtime's settings accept (appliance/runtime/gateway_service.py).
        env = {
            "APPLIANCE_BACKEND_HEALTH_INTERVAL_S": "0.5",
            "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
            **settings_env,
        }
        if settings_file and SETTINGS_FILE.exists():
            env["APPLIANCE_SETTINGS_FILE"] = str(SETTINGS_FILE)
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", APP,
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", *uvicorn_args,
        ]  # fmt: skip
        if workers > 1:
            argv += ["--workers", str(workers)]
        super().__init__(f"{name}-{self.port}", argv, env)
        if wait:
            self.wait_ready(timeout_s)

    def ready(self) -> bool:
        return answers(f"{self.url}/readyz", 2)

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_until(
            lambda: not self.alive() or self.ready(),
            f"gateway on {self.url}",
            timeout_s,
        )
        if not self.alive():
            raise AssertionError(f"gateway exited, see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """Pids of the serving processes (the supervisor's children, or the one process)."""
        if self.workers == 1:
            return [self.proc.pid]
        pids: list[int] = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children():
                with contextlib.suppress(psutil.Error):
                    if "spawn_main" in " ".join(child.cmdline()):
                        pids.append(child.pid)
        return pids


def gateway_env(database: ScratchPostgres, backends: Sequence[str], **extra: str) -> dict[str, str]:
    """Settings of a chaos gateway: the scratch database, these backends, roomy user limits."""
    return {
        "APPLIANCE_DATABASE_URL": database.gateway_url,
        "APPLIANCE_MIGRATION_DATABASE_URL": database.owner_url,
        "APPLIANCE_BACKENDS": ",".join(backends),
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "256",
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        **extra,
    }


class Gateway(GatewayProcess):
    """A second gateway process (one worker) with its own settings overrides."""

    def __init__(self, settings_env: Mapping[str, str]) -> None:
        super().__init__(settings_env, name="gateway", timeout_s=60)


class WorkersGateway(GatewayProcess):
    """A gateway run as the local runtime runs it: uvicorn with several worker processes
    (``appliance/runtime/gateway_service.py``), on a free port, with settings overrides;
    ready once every worker serves."""

    def __init__(self, settings_env: Mapping[str, str], workers: int = 2) -> None:
        super().__init__(
            settings_env,
            workers=workers,
            settings_file=False,
            uvicorn_args=("--no-server-header", "--log-level", "warning"),
        )

    def ready(self) -> bool:
        children = psutil.Process(self.proc.pid).children()
        # Every worker must be serving, not only the first one up: probe a few times.
        return len(children) >= self.workers and all(
            answers(f"{self.url}/readyz") for _ in range(2 * self.workers)
        )


def via_proxy(database_url: str, proxy: TcpProxy) -> str:
    """``database_url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(database_url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}"))


@contextlib.contextmanager
def fragile_gateway(
    settings_env: Mapping[str, str], database_url: str
) -> Iterator[tuple[Gateway, TcpProxy]]:
    """A gateway of its own whose connections to ``database_url`` pass through a proxy the
    test can cut (``proxy.cut()``): the audit store goes down for it alone. Both are stopped
    after."""
    target = urlsplit(database_url)
    proxy = TcpProxy(target.port or 5432, host=target.hostname or "127.0.0.1")
    fragile = Gateway({**settings_env, "APPLIANCE_DATABASE_URL": via_proxy(database_url, proxy)})
    try:
        yield fragile, proxy
    finally:
        fragile.stop()
        proxy.close()
