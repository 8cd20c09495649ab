"""End to end under load: the running appliance's gateway (127.0.0.1:8080) and its real CPU
vLLM, a few users chatting at once with short answers.

The point is not the model's speed (a 135M model on two shared cores) but that every
request of several concurrent users goes through authentication, admission, audit and
the real model and comes back whole. Bounded: two requests per user at short scale, about
a minute at full scale.
"""

from __future__ import annotations

import asyncio
import time

from tests.support.load import loadgen
from tests.support.record import full_scale, record, scaled
from tests.support.tokens import Tokens

USERS = ("zhang.wei", "li.na", "wang.fang")
MAX_TOKENS = 8


async def _chat(target: loadgen.Target, per_user: int, duration_s: float) -> list[loadgen.Sample]:
    samples: list[loadgen.Sample] = []
    end = time.perf_counter() + duration_s
    async with loadgen.session(timeout_s=120) as client:

        async def user(name: str) -> None:
            # One request at a time per user, as a person in the web UI chats.
            for _ in range(per_user):
                if time.perf_counter() > end:
                    return
                samples.append(await loadgen.request(client, target, name))

        await asyncio.gather(*(user(name) for name in target.headers))
    return samples


def test_a_few_users_chat_through_the_real_model(
    gateway_url: str, served_model: str, tokens: Tokens
) -> None:
    users = {name: tokens(name) for name in USERS}
    target = loadgen.chat_target(gateway_url, served_model, users, max_tokens=MAX_TOKENS)
    # Full scale: as many as a minute allows; short: two each, however long they take.
    per_user, duration_s = (1_000, 60.0) if full_scale() else (scaled(2, 2), 300.0)
    began = time.perf_counter()
    samples = loadgen.run(_chat(target, per_user, duration_s))
    wall_s = time.perf_counter() - began
    summary = loadgen.summarize(samples, wall_s)
    checks = {"every request answered in full": summary["ok"] == summary["requests"] > 0}
    record(
        "load_e2e_vllm",
        {
            "gateway": gateway_url,
            "model": served_model,
            "users": len(users),
            "max_tokens": MAX_TOKENS,
            "wall_s": wall_s,
            **summary,
            "checks": checks,
            "passed": all(checks.values()),
        },
    )
    assert all(checks.values()), summary
