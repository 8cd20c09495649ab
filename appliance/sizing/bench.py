"""A bounded load test through the gateway: how many staff can chat at once, and how fast.

For each concurrency level it sends a fixed number of streaming chat requests, at most
that many in flight, exactly as an OpenAI client would (so authentication, quotas and the
audit log are part of what is measured). Per request it records time to first token
(TTFT), time per output token after the first (TPOT) and the output token count; per level
the p50/p99 of each and the aggregate output tokens per second. *Goodput* is the highest
concurrency whose median per-user speed (1 / TPOT p50) still meets the stated target with
no failed requests: the figure an admin sizes staff access by.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_PROMPT = "用三句话解释什么是内存带宽。Explain memory bandwidth in three sentences."


@dataclass(frozen=True, slots=True)
class BenchConfig:
    target: str
    token: str
    concurrency: tuple[int, ...] = (1, 4, 16)
    requests: int = 16
    max_tokens: int = 256
    min_tps: float = 10.0
    model: str | None = None
    prompt: str = DEFAULT_PROMPT
    ignore_eos: bool = False
    timeout_s: float = 600.0


@dataclass(frozen=True, slots=True)
class RequestResult:
    ok: bool
    latency_s: float
    ttft_s: float | None = None
    output_tokens: int = 0
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        if self.ttft_s is None or self.output_tokens < 2:
            return None
        return (self.latency_s - self.ttft_s) / (self.output_tokens - 1)


@dataclass(frozen=True, slots=True)
class LevelResult:
    concurrency: int
    requests: int
    failed: int
    duration_s: float
    output_tokens: int
    output_tps: float
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    tpot_p50_ms: float | None
    tpot_p99_ms: float | None
    per_user_tps: float | None
    meets_target: bool
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BenchReport:
    target: str
    model: str
    max_tokens: int
    min_tps: float
    levels: tuple[LevelResult, ...]
    goodput_concurrency: int | None
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100) of ``values``; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _delta_has_text(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning") or delta.get("reasoning_content"):
            return True
    return False


async def _one_request(client: httpx.AsyncClient, config: BenchConfig, model: str) -> RequestResult:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": config.prompt}],
        "max_tokens": config.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if config.ignore_eos:
        body["ignore_eos"] = True
    start = time.perf_counter()
    ttft: float | None = None
    chunks, usage_tokens = 0, None
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                detail = (await response.aread()).decode(errors="replace")[:200]
                elapsed = time.perf_counter() - start
                return RequestResult(False, elapsed, error=f"HTTP {response.status_code}: {detail}")
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                chunk = json.loads(line[5:])
                if _delta_has_text(chunk):
                    chunks += 1
                    if ttft is None:
                        ttft = time.perf_counter() - start
                if chunk.get("usage"):
                    usage_tokens = int(chunk["usage"].get("completion_tokens") or 0)
    except httpx.HTTPError as exc:
        return RequestResult(False, time.perf_counter() - start, error=f"{type(exc).__name__}")
    tokens = usage_tokens if usage_tokens is not None else chunks
    return RequestResult(True, time.perf_counter() - start, ttft, tokens)


def summarise(
    concurrency: int, results: list[RequestResult], duration_s: float, min_tps: float
) -> LevelResult:
    """One level's figures from its requests' results."""
    ok = [r for r in results if r.ok]
    ttfts = [r.ttft_s * 1000 for r in ok if r.ttft_s is not None]
    tpots = [t * 1000 for r in ok if (t := r.tpot_s) is not None]
    tokens = sum(r.output_tokens for r in ok)
    tpot_p50 = percentile(tpots, 50)
    per_user = 1000 / tpot_p50 if tpot_p50 else None
    failed = len(results) - len(ok)
    return LevelResult(
        concurrency=concurrency,
        requests=len(results),
        failed=failed,
        duration_s=duration_s,
        output_tokens=tokens,
        output_tps=tokens / duration_s if duration_s > 0 else 0.0,
        ttft_p50_ms=percentile(ttfts, 50),
        ttft_p99_ms=percentile(ttfts, 99),
        tpot_p50_ms=tpot_p50,
        tpot_p99_ms=percentile(tpots, 99),
        per_user_tps=per_user,
        meets_target=failed == 0 and per_user is not None and per_user >= min_tps,
        errors=tuple(sorted({r.error for r in results if r.error})),
    )


def goodput(levels: tuple[LevelResult, ...]) -> int | None:
    """The highest concurrency that met the per-user target."""
    met = [level.concurrency for level in levels if level.meets_target]
    return max(met) if met else None


async def _discover_model(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/models")
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


async def run_bench(
    config: BenchConfig, on_request_done: Callable[[int], None] | None = None
) -> BenchReport:
    """Run every level in turn; ``on_request_done(concurrency)`` drives a progress bar."""
    headers = {"Authorization": f"Bearer {config.token}"}
    limits = httpx.Limits(max_connections=max(config.concurrency) + 4)
    async with httpx.AsyncClient(
        base_url=config.target.rstrip("/"),
        headers=headers,
        timeout=config.timeout_s,
        limits=limits,
    ) as client:
        model = config.model or await _discover_model(client)
        levels = []
        for concurrency in config.concurrency:
            gate = asyncio.Semaphore(concurrency)

            async def bounded(
                level: int = concurrency, sem: asyncio.Semaphore = gate
            ) -> RequestResult:
                async with sem:
                    result = await _one_request(client, config, model)
                if on_request_done is not None:
                    on_request_done(level)
                return result

            start = time.perf_counter()
            results = await asyncio.gather(*(bounded() for _ in range(config.requests)))
            duration = time.perf_counter() - start
            levels.append(summarise(concurrency, list(results), duration, config.min_tps))
    done = tuple(levels)
    return BenchReport(config.target, model, config.max_tokens, config.min_tps, done, goodput(done))
