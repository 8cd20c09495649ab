"""The pool of vLLM replicas: health, models served, and least-outstanding-requests choice.

Each replica is one vLLM server listed in the settings' ``backends`` (the API, the metrics
and the audit log call it a backend, as operators do).

Health is checked actively (``GET /health`` then ``GET /v1/models`` every interval, each
with a short timeout, so a hung backend is caught by the timeout, not only a dead one) and
passively (a connection failure while forwarding marks the backend down at once). A backend
is marked down after two failed checks in a row, so one slow answer does not flap it, and
back up after one good check.

In-flight counts are per process, on purpose (unlike the per-user cap, which is shared
through PostgreSQL: ``appliance.gateway.quota.slots``). The cap guards one replica's queue,
not anyone's share: vLLM itself runs at most ``--max-num-seqs`` sequences at once (the
sizing plan's ``max_num_seqs``) and keeps the rest in its own waiting queue, where a
request holds no KV cache until scheduled. ``per_backend_inflight`` only bounds how deep
that queue may grow before the gateway answers 503 ``backends_busy`` rather than letting
requests queue into timeouts, so a replica seeing workers × gateways × the cap is sized
for, not a breach (the setting's comment says so). Counting globally would add a database
round trip to every backend pick and every failover, and the least-outstanding choice
would still be made on counts that are stale by the time the request arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from appliance.errors import NotFound, ServiceUnavailable
from appliance.gateway.replicas.thinking import inferred_mode
from appliance.settings import ThinkingMode

log = logging.getLogger("appliance.gateway.replicas")

FAILURES_BEFORE_DOWN = 2


@dataclass(slots=True, eq=False)
class Replica:
    url: str
    healthy: bool = False
    inflight: int = 0
    picks: int = 0
    failures: int = 0
    last_error: str | None = None
    last_check_at: float | None = None
    model_cards: tuple[dict[str, Any], ...] = ()
    model_ids: frozenset[str] = field(default_factory=frozenset)
    # vLLM's own view of its load, from its /metrics: requests waiting and running.
    queued: int | None = None
    running: int | None = None
    chat_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.chat_url = f"{self.url}/v1/chat/completions"

    def snapshot(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "healthy": self.healthy,
            "in_flight": self.inflight,
            "last_error": self.last_error,
            "last_check_at": self.last_check_at,
            "models": sorted(self.model_ids),
            "queued": self.queued,
            "running": self.running,
        }


class ReplicaPool:
    def __init__(
        self,
        urls: list[str],
        client: aiohttp.ClientSession,
        *,
        interval_s: float,
        inflight_cap: int,
        thinking: Mapping[str, ThinkingMode] | None = None,
    ) -> None:
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self._thinking = dict(thinking or {})
        self._client = client
        self._interval_s = interval_s
        # Short enough that a hung backend misses two checks well within 15 s.
        self._timeout = aiohttp.ClientTimeout(total=max(0.5, min(3.0, interval_s)))
        self._inflight_cap = inflight_cap
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check every backend once, so readiness is known before serving, then keep going."""
        await self.check_all()
        self._task = asyncio.create_task(self._loop(), name="replica-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.check_all()

    async def check_all(self) -> None:
        await asyncio.gather(*(self._check(backend) for backend in self.replicas))

    async def _check(self, backend: Replica) -> None:
        backend.last_check_at = time.time()
        try:
            client, timeout = self._client, self._timeout
            async with client.get(f"{backend.url}/health", timeout=timeout) as health:
                health.raise_for_status()
            async with client.get(f"{backend.url}/v1/models", timeout=timeout) as listing:
                listing.raise_for_status()
                cards = tuple(orjson.loads(await listing.read()).get("data", ()))
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError, AttributeError) as exc:
            backend.failures += 1
            backend.last_error = f"health check failed: {type(exc).__name__}: {exc}"
            if backend.failures >= FAILURES_BEFORE_DOWN and backend.healthy:
                log.warning("backend %s is down: %s", backend.url, backend.last_error)
                backend.healthy = False
            return
        if not backend.healthy:
            log.info("backend %s is up", backend.url)
        backend.failures = 0
        backend.healthy = True
        backend.model_cards = cards
        backend.model_ids = frozenset(str(card.get("id")) for card in cards)
        await self._read_load(backend)

    async def _read_load(self, backend: Replica) -> None:
        """Queue and running counts from vLLM's Prometheus metrics; None where a backend
        does not export them (health does not depend on it)."""
        try:
            async with self._client.get(f"{backend.url}/metrics", timeout=self._timeout) as reply:
                reply.raise_for_status()
                text = await reply.text()
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            backend.queued = backend.running = None
            return
        backend.queued = _metric_sum(text, "vllm:num_requests_waiting")
        backend.running = _metric_sum(text, "vllm:num_requests_running")

    def mark_failed(self, backend: Replica, error: str) -> None:
        """Passive check: a backend that refused a connection is down until it passes again."""
        backend.failures = FAILURES_BEFORE_DOWN
        backend.healthy = False
        backend.last_error = error
        log.warning("backend %s failed while forwarding: %s", backend.url, error)

    @property
    def any_healthy(self) -> bool:
        return any(backend.healthy for backend in self.replicas)

    def models(self) -> list[dict[str, Any]]:
        """Model cards served by healthy backends, each id once, each with its ``thinking``
        mode added (what the chat's ``thinking`` switch does for it)."""
        seen: dict[str, dict[str, Any]] = {}
        for backend in self.replicas:
            if backend.healthy:
                for card in backend.model_cards:
                    model_id = str(card.get("id"))
                    if model_id not in seen:
                        seen[model_id] = {**card, "thinking": self._mode(card).value}
        return list(seen.values())

    def _mode(self, card: Mapping[str, Any]) -> ThinkingMode:
        model_id = str(card.get("id"))
        configured = self._thinking.get(model_id)
        if configured is not None:
            return configured
        return inferred_mode([model_id, str(card.get("root") or "")])

    def thinking(self, model: str) -> ThinkingMode:
        """The thinking mode of ``model``: configured, or implied by its id and the ``root``
        of a backend's card for it."""
        for backend in self.replicas:
            for card in backend.model_cards:
                if str(card.get("id")) == model:
                    return self._mode(card)
        return self._mode({"id": model})

    def ensure_known(self, model: str) -> None:
        """404 for a model that no backend serves, once at least one backend is up to ask."""
        if self.any_healthy and not any(model in b.model_ids for b in self.replicas):
            raise NotFound(f"The model '{model}' does not exist.", code="model_not_found")

    def acquire(self, model: str, exclude: frozenset[Replica] = frozenset()) -> Replica:
        """Reserve the healthy backend serving ``model`` with the fewest requests open.

        Raises NotFound for a model no healthy backend knows, and ServiceUnavailable (503
        with Retry-After) when none is healthy or every one is at its in-flight cap, so an
        overload is refused at once instead of queueing into timeouts.
        """
        serving = [b for b in self.replicas if b.healthy and model in b.model_ids]
        if not serving:
            self.ensure_known(model)
            raise ServiceUnavailable(
                f"No healthy backend serves '{model}' right now.",
                retry_after_s=max(1, round(self._interval_s)),
                code="no_healthy_backend",
            )
        candidates = [b for b in serving if b not in exclude and b.inflight < self._inflight_cap]
        if not candidates:
            raise ServiceUnavailable(
                "Every backend is at capacity; retry shortly.", code="backends_busy"
            )
        chosen = min(candidates, key=lambda b: (b.inflight, b.picks))
        chosen.inflight += 1
        chosen.picks += 1
        return chosen

    @staticmethod
    def release(backend: Replica) -> None:
        backend.inflight -= 1


def _metric_sum(text: str, name: str) -> int | None:
    """Sum of one metric's samples over its label sets (one per engine) in exposition text;
    None when the metric is absent or unreadable."""
    try:
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ")
        ]
    except (ValueError, IndexError):
        return None
    return round(sum(values)) if values else None
