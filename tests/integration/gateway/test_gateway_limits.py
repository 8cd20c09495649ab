"""Quota and admission against a gateway with tiny limits and a stub backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from tests.support.audit import find_audit_event
from tests.support.gateways import Gateway, chat_body
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


def _chat(url: str, headers: dict[str, str], model: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=chat_body(model), headers=headers)


def test_daily_quota_exhausted_is_429_with_retry_after_and_audited(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway], tokens: Tokens
) -> None:
    stub = stubs()
    gateway = spawn_gateway([stub.url], limits__daily_token_quota=1)
    headers = tokens.headers("li.na")
    # The first chat may still pass (if li.na used nothing today); it uses more than 1 token.
    responses = [_chat(gateway.url, headers, stub.model) for _ in range(2)]
    refused = responses[-1]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "daily_quota_exceeded"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    me = httpx.get(f"{gateway.url}/api/me", headers=headers).json()
    assert me["remaining_daily_tokens"] == 0
    event = find_audit_event(
        gateway.url,
        tokens,
        request_id=refused.headers["x-request-id"],
        event_type="rate.limited",
    )
    assert event["actor_username"] == "li.na"
    assert event["http_status"] == 429


def test_user_concurrency_cap_is_429_and_full_backends_are_503(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway], tokens: Tokens
) -> None:
    stub = stubs()
    stub.control(chunk_delay_ms=400)
    gateway = spawn_gateway(
        [stub.url], limits__per_user_concurrency=1, limits__per_backend_inflight=1
    )
    body = chat_body(stub.model, stream=True)
    with (
        httpx.Client(timeout=60) as holder,
        holder.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            json=body,
            headers=tokens.headers("zhang.wei"),
        ) as held,
    ):
        assert held.status_code == 200
        chunks = held.iter_raw()  # kept referenced: a dropped iterator closes the stream
        next(chunks)
        same_user = _chat(gateway.url, tokens.headers("zhang.wei"), stub.model)
        assert same_user.status_code == 429
        assert same_user.headers["Retry-After"] == "1"
        assert same_user.json()["error"]["code"] == "too_many_concurrent_requests"
        other_user = _chat(gateway.url, tokens.headers("wang.fang"), stub.model)
        assert other_user.status_code == 503
        assert int(other_user.headers["Retry-After"]) >= 1
        assert other_user.json()["error"]["code"] == "backends_busy"
    stub.control(chunk_delay_ms=0)
    # Once the held stream is over both are admitted again.
    for user in ("zhang.wei", "wang.fang"):
        assert _chat(gateway.url, tokens.headers(user), stub.model).status_code == 200
