"""Child processes of the tests: free ports, waiting for readiness, start and stop.

Everything binds 127.0.0.1 on a free port, logs under ``var/log/tests`` and is stopped by
the fixture (or ``finally``) that started it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping

import httpx
import psutil

from tests.support.paths import REPO

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


def answers(url: str, timeout_s: float = 1.0) -> bool:
    """Whether ``url`` answers 200 within ``timeout_s``."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
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


def kill_tree(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        for child in proc.children(recursive=True):
            child.kill()
        proc.kill()
