"""The stub OpenAI backend (``stub_openai.py``) as a child process the tests control.

Faults (delays, errors, dropped streams) are set at run time through its ``/control`` route;
``/stats`` counts what it was asked.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.process import Process, answers, free_port, wait_until

STUB = Path(__file__).resolve().parent / "stub_openai.py"


def _chat_requests(url: str) -> int:
    response = httpx.get(f"{url}/stats", timeout=5)
    response.raise_for_status()
    return sum(v for k, v in response.json()["by_route"].items() if k.startswith("chat"))


class Stub(Process):
    """The stub on a free port; faults are set at run time via /control."""

    def __init__(self, model: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = model
        super().__init__(
            f"stub-{self.port}", [sys.executable, str(STUB), str(self.port), "--model", model]
        )
        wait_until(lambda: answers(f"{self.url}/health"), f"stub on {self.url}")

    def control(self, **faults: Any) -> None:
        httpx.post(f"{self.url}/control", json=faults, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def chat_requests(self) -> int:
        return _chat_requests(self.url)


class RestartableStub(Process):
    """The stub on a fixed port, so it can be killed and brought back at the same URL."""

    def __init__(self, model: str, *, port: int | None = None, **faults: Any) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = model
        self.faults = faults
        self._spawn()

    def _spawn(self) -> None:
        super().__init__(
            f"chaos-stub-{self.port}",
            [sys.executable, str(STUB), str(self.port), "--model", self.model],
        )
        wait_until(lambda: answers(f"{self.url}/health", 2), f"stub on {self.url}", 30)
        if self.faults:
            self.control(**self.faults)

    def restart(self) -> None:
        self.stop()
        self._spawn()

    def control(self, **faults: Any) -> None:
        httpx.post(f"{self.url}/control", json=faults, timeout=5).raise_for_status()

    def chat_requests(self) -> int:
        return _chat_requests(self.url)
