"""A bounded closed-loop chat load that records every answer, for the fault scenarios.

``concurrency`` clients each send one chat after another through a gateway while a test
injects a fault, so the test can read what each client saw before, during and after it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

LOAD_USERS = ("zhang.wei", "wang.fang", "li.na")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 4)


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p99/max of a list of durations, as the report quotes them."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": round(max(values), 4) if values else None,
    }


@dataclass(slots=True)
class Answer:
    """What one client saw of one chat."""

    started: float
    stream: bool
    user: str
    status: int = 0
    request_id: str | None = None
    # Seconds until the status line (or the transport error) arrived, and until the end.
    to_status_s: float = 0.0
    elapsed_s: float = 0.0
    error_code: str | None = None
    # The refusal's body has OpenAI's shape: {"error": {"message": str, "type": str, ...}}.
    error_shaped: bool = False
    transport_error: str | None = None
    completed: bool = False
    # A stream ended with "data: [DONE]" (after an error event too).
    done: bool = False
    sse_error: str | None = None
    chunks: int = 0
    # Keycloak would not issue the user a token: the chat never left the client.
    token_refused: bool = False
    # What the stream delivered (reasoning, then content), and when its error event came.
    text: str = ""
    error_at: float | None = None


def _error(body: bytes) -> dict[str, Any]:
    try:
        parsed = httpx.Response(200, content=body).json()
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _error_code(body: bytes) -> str | None:
    code = _error(body).get("code")
    return str(code) if code is not None else None


def _delta_text(data: str) -> str:
    try:
        choices = httpx.Response(200, content=data.encode()).json().get("choices") or []
    except ValueError:
        return ""
    delta = choices[0].get("delta", {}) if choices else {}
    return str(delta.get("reasoning_content") or "") + str(delta.get("content") or "")


def openai_shaped(body: bytes) -> bool:
    """Whether an error body is what OpenAI clients parse: a message and a type, as text."""
    error = _error(body)
    return isinstance(error.get("message"), str) and isinstance(error.get("type"), str)


@dataclass
class ChatLoad:
    """A bounded closed-loop chat load: ``concurrency`` clients, each sending one chat after
    another (streaming or not, alternately) until ``stop()`` or ``duration_s``.

    Runs on its own thread with its own event loop, so a test drives faults while it runs.
    ``headers`` gives the Authorization header of a user (Keycloak tokens, cached).
    """

    url: str
    model: str
    headers: Callable[[str], dict[str, str]]
    concurrency: int = 8
    duration_s: float = 600.0
    timeout_s: float = 30.0
    users: Sequence[str] = LOAD_USERS
    pause_after_error_s: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _token_lock: threading.Lock = field(default_factory=threading.Lock)
    # What stopped the load early, if anything did (a test asserts it is None).
    failure: BaseException | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> ChatLoad:
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def halt(self) -> None:
        """Send no more chats; those in flight carry on (``stop()`` waits for them)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 10)
            self._thread = None

    def sent(self) -> list[Answer]:
        """Chats that reached the gateway (not those whose token Keycloak refused)."""
        return [a for a in list(self.answers) if not a.token_refused]

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.sent() if a.started >= moment]

    def token_failures(self) -> int:
        return sum(1 for a in list(self.answers) if a.token_refused)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as exc:  # whatever it is, the test reports it rather than hangs
            self.failure = exc

    def active_before(self, moment: float, window_s: float = 2.0) -> int:
        """Chats started in the ``window_s`` before ``moment``: proof the load was running."""
        return sum(1 for a in list(self.answers) if moment - window_s <= a.started < moment)

    def _headers(self, user: str) -> dict[str, str]:
        """One token request at a time (the cache is not thread-safe); one retry on failure."""
        with self._token_lock:
            try:
                return self.headers(user)
            except httpx.HTTPError:
                time.sleep(0.5)
                return self.headers(user)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=self.timeout_s, limits=limits) as client:
            deadline = time.monotonic() + self.duration_s
            await asyncio.gather(
                *(self._client(client, i, deadline) for i in range(self.concurrency))
            )

    async def _client(self, client: httpx.AsyncClient, index: int, deadline: float) -> None:
        turn = index
        while not self._stop.is_set() and time.monotonic() < deadline:
            user = self.users[turn % len(self.users)]
            answer = Answer(started=time.monotonic(), stream=turn % 2 == 0, user=user)
            self.answers.append(answer)
            try:
                headers = await asyncio.to_thread(self._headers, user)
            except httpx.HTTPError as exc:
                # Keycloak refused a token: counted, and the client tries again.
                answer.token_refused = True
                answer.transport_error = type(exc).__name__
                await asyncio.sleep(1.0)
                continue
            await self._chat(client, answer, headers)
            turn += 1
            if answer.status != 200:
                await asyncio.sleep(self.pause_after_error_s)

    async def _chat(
        self, client: httpx.AsyncClient, answer: Answer, headers: dict[str, str]
    ) -> None:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "stream": answer.stream,
        }
        try:
            async with client.stream(
                "POST", f"{self.url}/v1/chat/completions", json=body, headers=headers
            ) as response:
                answer.to_status_s = time.monotonic() - answer.started
                answer.status = response.status_code
                answer.request_id = response.headers.get("x-request-id")
                if response.status_code != 200 or not answer.stream:
                    content = await response.aread()
                    if response.status_code != 200:
                        answer.error_code = _error_code(content)
                        answer.error_shaped = openai_shaped(content)
                    answer.completed = response.status_code == 200
                else:
                    async for line in response.aiter_lines():
                        if not line.startswith("data: "):
                            continue
                        data = line[6:]
                        if data == "[DONE]":
                            answer.done = True
                            answer.completed = answer.sse_error is None
                        elif '"error"' in data:
                            answer.sse_error = _error_code(data.encode())
                            answer.error_at = time.monotonic()
                        else:
                            answer.chunks += 1
                            answer.text += _delta_text(data)
        except httpx.HTTPError as exc:
            if not answer.to_status_s:
                answer.to_status_s = time.monotonic() - answer.started
            answer.transport_error = type(exc).__name__
        answer.elapsed_s = time.monotonic() - answer.started
