"""Random, realistic audit rows for the pure chain tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.audit.chain import seal

TEXTS = ["你好，请总结这份合同。", "What is the capital of France?", "", 'a\tb\\c\n"d"', "{x,y}"]


def random_row(rng: random.Random, base: datetime) -> dict[str, Any]:
    return {
        "created_at": base + timedelta(microseconds=rng.randrange(10**9)),
        "request_id": f"req-{rng.randrange(10**9):x}",
        "event_type": rng.choice(["chat.begin", "chat.end", "auth.failure"]),
        "outcome": rng.choice(["ok", "pending", "denied"]),
        "actor_subject": f"sub-{rng.randrange(100)}",
        "actor_username": rng.choice(["zhang.wei", "li.na", "王芳"]),
        "actor_roles": rng.sample(["staff", "auditor", "kb-editor"], rng.randrange(3)),
        "actor_groups": rng.sample(["/dept/finance", "/dept/legal", "/dept/it x"], 2),
        "client_id": "appliance-webui",
        "client_ip": "127.0.0.1",
        "user_agent": "pytest",
        "http_status": rng.choice([None, 200, 503]),
        "model": rng.choice([None, "smollm2"]),
        "backend": None,
        "prompt_tokens": rng.choice([None, rng.randrange(5000)]),
        "completion_tokens": None,
        "latency_ms": rng.choice([None, rng.random() * 1000]),
        "ttft_ms": rng.choice([None, 0.1, 1e-7]),
        "document_ids": [f"doc-{rng.randrange(50)}" for _ in range(rng.randrange(3))],
        "chunk_ids": [],
        "prompt": rng.choice(TEXTS),
        "reasoning": rng.choice([None, *TEXTS]),
        "response": rng.choice([None, *TEXTS]),
        "prompt_sha256": "ab" * 32,
        "response_sha256": None,
        "capture_mode": "full",
        "detail": {"n": rng.choice([1, 1.5, 1e20, "x"]), "nested": {"b": [True, None]}},
        "writer_id": "host:1:2",
        "hash_alg": rng.choice(["sha256", "sm3"]),
    }


def make_chain(rng: random.Random, length: int) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 28, tzinfo=UTC)
    rows = [random_row(rng, base) for _ in range(length)]
    seal(rows, first_seq=1, prev_hash="0" * 64)
    return rows
