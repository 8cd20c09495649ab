"""Fixtures of the gateway tests: stub backends, gateways with their own limits, audit lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.gateways import Gateway
from tests.support.stubs import Stub


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
def spawn_gateway(services: dict[str, Any]) -> Iterator[Callable[..., Gateway]]:
    """Start extra gateway processes against the real database and Keycloak."""
    started: list[Gateway] = []

    def spawn(backends: list[str], **settings: str | int | float) -> Gateway:
        env = {
            "APPLIANCE_DATABASE_URL": services["database_url"],
            "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": ",".join(backends),
        }
        env |= {f"APPLIANCE_{key.upper()}": str(value) for key, value in settings.items()}
        gateway = Gateway(env)
        started.append(gateway)
        return gateway

    yield spawn
    for gateway in started:
        gateway.stop()
