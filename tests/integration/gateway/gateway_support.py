"""Processes and plumbing the gateway tests start: stub backends, extra gateways, a TCP proxy.

Everything binds 127.0.0.1 on a free port and is stopped by the fixture that made it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    pass

REPO = Path(__file__).resolve().parents[3]
STUB = REPO / "tests" / "perf" / "stub_openai.py"
LOGS = REPO / "var" / "log" / "tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Process:
    """A child process with its log under var/log/tests; stopped with terminate, then kill."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=self._log, stderr=self._log
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Stub(Process):
    """tests/perf/stub_openai.py on a free port; faults are set at run time via /control."""

    def __init__(self, model: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = model
        super().__init__(
            f"stub-{self.port}", [sys.executable, str(STUB), str(self.port), "--model", model]
        )
        wait_until(lambda: _answers(f"{self.url}/health"), f"stub on {self.url}")

    def control(self, **faults: Any) -> None:
        httpx.post(f"{self.url}/control", json=faults, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def chat_requests(self) -> int:
        by_route = self.stats()["by_route"]
        return sum(v for k, v in by_route.items() if k.startswith("chat"))


class Gateway(Process):
    """A second gateway process (uvicorn --factory) with its own settings overrides."""

    def __init__(self, settings_env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings_file = REPO / "var" / "appliance.env"
        env = {"APPLIANCE_BACKEND_HEALTH_INTERVAL_S": "0.5", **settings_env}
        if settings_file.exists():
            env["APPLIANCE_SETTINGS_FILE"] = str(settings_file)
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "appliance.gateway.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        super().__init__(f"gateway-{self.port}", argv, env)
        wait_until(
            lambda: not self.alive() or _answers(f"{self.url}/readyz"),
            f"gateway on {self.url}",
        )
        if not self.alive():
            raise AssertionError(f"gateway exited, see {self.log_path}")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses more.

    Lets a test take "the database" away from one gateway without touching PostgreSQL.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut:
                    client.close()
                    upstream.close()
                    continue
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
        self.listener.close()


def chat_body(model: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": stream,
        **extra,
    }
