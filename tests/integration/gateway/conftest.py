"""Fixtures of the gateway tests: stub backends, gateways with their own limits, audit lookups."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest

from tests.conftest import Tokens
from tests.integration.gateway.procs import Gateway, Stub


@pytest.fixture
def stubs(served_model: str) -> Iterator[Callable[[], Stub]]:
    """Start stub backends on demand; all stopped after the test."""
    started: list[Stub] = []

    def start() -> Stub:
        stub = Stub(served_model)
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()


@pytest.fixture
def spawn_gateway(endpoints: dict[str, Any]) -> Iterator[Callable[..., Gateway]]:
    """Start extra gateway processes against the real database and Keycloak."""
    started: list[Gateway] = []

    def spawn(backends: list[str], **settings: str | int | float) -> Gateway:
        env = {
            "APPLIANCE_DATABASE_URL": endpoints["database_url"],
            "APPLIANCE_KEYCLOAK__ISSUER": endpoints["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": ",".join(backends),
        }
        env |= {f"APPLIANCE_{key.upper()}": str(value) for key, value in settings.items()}
        gateway = Gateway(env)
        started.append(gateway)
        return gateway

    yield spawn
    for gateway in started:
        gateway.stop()


def chat_body(model: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": stream,
        **extra,
    }


def find_audit_event(
    gateway_url: str,
    tokens: Tokens,
    *,
    request_id: str,
    event_type: str,
    filters: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Poll the auditor API until the event of ``request_id`` shows up (writes are batched)."""
    auditor = tokens.with_role("auditor")
    deadline = time.monotonic() + timeout_s
    params = {"event_type": event_type, "limit": "500", **(filters or {})}
    while True:
        response = httpx.get(
            f"{gateway_url}/api/audit/events",
            params=params,
            headers=tokens.headers(auditor),
            timeout=30,
        )
        response.raise_for_status()
        for event in response.json()["events"]:
            if event["request_id"] == request_id:
                return dict(event)
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} audit event for request {request_id}")
        time.sleep(0.3)
