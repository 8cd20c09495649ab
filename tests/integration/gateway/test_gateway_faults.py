"""Faults: the audit store goes away, backends fail or die, clients hang up."""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from tests.support.audit import find_audit_event
from tests.support.gateways import Gateway, chat_body, via_proxy
from tests.support.process import wait_until
from tests.support.proxy import TcpProxy
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


def _sse_events(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def _chat(gateway: Gateway, tokens: Tokens, model: str, *, stream: bool = False) -> httpx.Response:
    """One chat completion as zhang.wei, a staff member."""
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=chat_body(model, stream=stream),
        headers=tokens.headers("zhang.wei"),
        timeout=30,
    )


def _chat_stream(
    gateway: Gateway, tokens: Tokens, model: str, *, timeout: float
) -> AbstractContextManager[httpx.Response]:
    """A streamed chat completion as zhang.wei, read as it arrives."""
    return httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json=chat_body(model, stream=True),
        headers=tokens.headers("zhang.wei"),
        timeout=timeout,
    )


def _backends(gateway: Gateway, admin: dict[str, str]) -> list[dict[str, Any]]:
    """The replicas as a sysadmin sees them (``/api/admin/backends``)."""
    return list(httpx.get(f"{gateway.url}/api/admin/backends", headers=admin).json()["backends"])


def test_audit_store_down_refuses_with_503_and_nothing_reaches_the_backend(
    services: dict[str, Any],
    stubs: Callable[[], Stub],
    spawn_gateway: Callable[..., Gateway],
    tokens: Tokens,
) -> None:
    stub = stubs()
    target = urlsplit(services["database_url"])
    proxy = TcpProxy(target.port or 5432, host=target.hostname or "127.0.0.1")
    gateway = spawn_gateway([stub.url], database_url=via_proxy(services["database_url"], proxy))
    assert _chat(gateway, tokens, stub.model).status_code == 200
    served = stub.chat_requests()

    proxy.cut()
    for stream in (False, True):
        refused = _chat(gateway, tokens, stub.model, stream=stream)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        assert refused.json()["error"]["code"] == "audit_unavailable"
    assert stub.chat_requests() == served
    assert httpx.get(f"{gateway.url}/readyz", timeout=30).status_code == 503


def test_failing_backend_before_first_byte_fails_over(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway], tokens: Tokens
) -> None:
    broken, good = stubs(), stubs()
    gateway = spawn_gateway([broken.url, good.url])
    broken.control(fail_status=500)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=tokens("zhang.wei"), max_retries=0)
    for _ in range(4):
        reply = client.chat.completions.create(
            model=good.model, messages=[{"role": "user", "content": "Capital of France?"}]
        )
        assert reply.choices[0].message.content == "The capital of France is Paris."
    assert broken.stats()["by_route"].get("chat_failed", 0) >= 1

    # A backend that is gone altogether: requests keep succeeding on the other one.
    broken.stop()
    for stream in (False, True):
        response = _chat(gateway, tokens, good.model, stream=stream)
        assert response.status_code == 200


@pytest.fixture
def stub_gateway(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway]
) -> tuple[Stub, Gateway]:
    """One stub backend and a gateway that has only it."""
    stub = stubs()
    return stub, spawn_gateway([stub.url])


def test_backend_killed_mid_stream_ends_with_clean_error_and_is_audited(
    stub_gateway: tuple[Stub, Gateway], tokens: Tokens
) -> None:
    stub, gateway = stub_gateway
    stub.control(die_after_chunks=3)
    with _chat_stream(gateway, tokens, stub.model, timeout=30) as response:
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        events = _sse_events(response)
    assert events[-1] == "[DONE]"
    error = httpx.Response(200, content=events[-2]).json()["error"]
    assert error["code"] == "upstream_aborted"
    assert "Traceback" not in error["message"]
    streamed = [httpx.Response(200, content=e).json() for e in events[:-2]]
    assert [c["choices"][0]["delta"].get("reasoning_content") for c in streamed[1:]] == [
        "The user ",
        "asks for ",
    ]
    end = find_audit_event(gateway.url, tokens, request_id=request_id, event_type="chat.end")
    assert end["outcome"] == "upstream_aborted"
    assert end["completion_tokens"] == 2
    assert end["reasoning"] == "The user asks for "


def test_official_client_sees_mid_stream_failure_as_an_error(
    stub_gateway: tuple[Stub, Gateway], tokens: Tokens
) -> None:
    stub, gateway = stub_gateway
    stub.control(die_after_chunks=2)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=tokens("zhang.wei"))
    stream = client.chat.completions.create(
        model=stub.model, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="stopped before the answer finished"):
        for _ in stream:
            pass


def test_client_disconnect_aborts_upstream_and_is_audited(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway], tokens: Tokens
) -> None:
    stub = stubs()
    # Nine chunks five seconds apart: the stream would run 45 s if the gateway kept it.
    stub.control(chunk_delay_ms=5000)
    gateway = spawn_gateway([stub.url])
    admin = tokens.headers(tokens.with_role("sysadmin"))

    def in_flight() -> int:
        return int(_backends(gateway, admin)[0]["in_flight"])

    with _chat_stream(gateway, tokens, stub.model, timeout=60) as response:
        request_id = response.headers["x-request-id"]
        chunks = response.iter_raw()  # kept referenced: a dropped iterator closes the stream
        next(chunks)
        assert in_flight() == 1
    wait_until(lambda: in_flight() == 0, "the backend slot to be released", timeout_s=20)
    end = find_audit_event(gateway.url, tokens, request_id=request_id, event_type="chat.end")
    assert end["outcome"] == "client_aborted"


def test_hung_backend_is_marked_unhealthy_and_avoided(
    stubs: Callable[[], Stub], spawn_gateway: Callable[..., Gateway], tokens: Tokens
) -> None:
    hung, good = stubs(), stubs()
    gateway = spawn_gateway([hung.url, good.url], backend_health_interval_s=2)
    admin = tokens.headers(tokens.with_role("sysadmin"))

    def health() -> dict[str, bool]:
        return {b["url"]: b["healthy"] for b in _backends(gateway, admin)}

    hung.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: health() == {hung.url: False, good.url: True}, "hung backend down", 15)
        for _ in range(3):
            response = _chat(gateway, tokens, good.model)
            assert response.status_code == 200
    finally:
        hung.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: all(health().values()), "hung backend back", 15)
