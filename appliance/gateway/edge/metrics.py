"""Prometheus metrics of one gateway process.

Each app gets its own registry (no module globals), so several apps can live in one test
process. With several uvicorn workers each worker exposes its own numbers and Prometheus
sees whichever worker answers a scrape; counters are still monotonic per worker, which is
what rate() needs. Values that already live elsewhere (audit writer statistics, backend
health) are read at scrape time by a collector instead of being copied on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class ReplicaLoad(Protocol):
    """What the metrics read of one vLLM replica (see :mod:`appliance.gateway.replicas`)."""

    @property
    def url(self) -> str: ...

    @property
    def healthy(self) -> bool: ...

    @property
    def inflight(self) -> int: ...


_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _LiveCollector(Collector):
    """Backend health and in-flight counts, and the audit writer's statistics."""

    def __init__(
        self, replicas: Sequence[ReplicaLoad], audit_stats: Callable[[], Mapping[str, float]]
    ) -> None:
        self._replicas = replicas
        self._audit_stats = audit_stats

    def collect(self) -> Iterator[Metric]:
        healthy = GaugeMetricFamily(
            "appliance_backend_healthy",
            "1 when the backend passed its last health check",
            labels=["backend"],
        )
        inflight = GaugeMetricFamily(
            "appliance_backend_inflight",
            "Requests this process has open on the backend",
            labels=["backend"],
        )
        for backend in self._replicas:
            healthy.add_metric([backend.url], 1.0 if backend.healthy else 0.0)
            inflight.add_metric([backend.url], float(backend.inflight))
        yield healthy
        yield inflight
        for name, value in self._audit_stats().items():
            yield GaugeMetricFamily(
                f"appliance_audit_{name}", f"Audit writer statistic {name}", value=value
            )


@dataclass(slots=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    ttft: Histogram
    tokens: Counter
    chats: Counter
    shed: Counter
    content_hits: Counter

    def watch(
        self, replicas: Sequence[ReplicaLoad], audit_stats: Callable[[], Mapping[str, float]]
    ) -> None:
        """Expose the live state of objects made in the lifespan, read at scrape time: the
        replica list is read at each scrape, so it is the pool's own list, not a copy."""
        self.registry.register(_LiveCollector(replicas, audit_stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def build_metrics() -> GatewayMetrics:
    registry = CollectorRegistry(auto_describe=True)
    return GatewayMetrics(
        registry=registry,
        requests=Counter(
            "appliance_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        ),
        duration=Histogram(
            "appliance_http_request_duration_seconds",
            "Time from request start to the last byte of the response",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        ttft=Histogram(
            "appliance_chat_ttft_seconds",
            "Time from request start to the first reasoning or answer token",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        tokens=Counter("appliance_chat_tokens", "Tokens processed", ["kind"], registry=registry),
        chats=Counter(
            "appliance_chat_requests",
            "Chat completions by final outcome",
            ["outcome"],
            registry=registry,
        ),
        shed=Counter(
            "appliance_load_shed",
            "Requests refused with 503 by load shedding, before authentication",
            ["reason"],
            registry=registry,
        ),
        content_hits=Counter(
            "appliance_content_hits",
            "Keyword library hits by category, action (block, mask, flag) and where the text"
            " was: prompt, passage (retrieved), reasoning or answer",
            ["category", "action", "source"],
            registry=registry,
        ),
    )
