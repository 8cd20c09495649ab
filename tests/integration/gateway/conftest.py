"""Fixtures of the gateway tests: stub backends, gateways with their own limits or settings,
audit lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, Protocol, TypeVar

import pytest

from tests.support.gateways import Gateway
from tests.support.stubs import Stub


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_P = ParamSpec("_P")
_S = TypeVar("_S", bound=_Stoppable)


def _started(start: Callable[_P, _S]) -> Iterator[Callable[_P, _S]]:
    """``start`` for the test to call as often as it likes; all it started is stopped after."""
    started: list[_S] = []

    def start_and_track(*args: _P.args, **kwargs: _P.kwargs) -> _S:
        process = start(*args, **kwargs)
        started.append(process)
        return process

    yield start_and_track
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def settings_env(services: dict[str, Any]) -> dict[str, str]:
    """What a module's own gateway is given: the shared database and Keycloak."""
    return {
        "APPLIANCE_DATABASE_URL": services["database_url"],
        "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
    }


@pytest.fixture(scope="module")
def stub(served_model: str) -> Iterator[Stub]:
    """The stub backend of a module's own gateway (a module may define its own instead)."""
    started = Stub(served_model)
    yield started
    started.stop()


@pytest.fixture
def stubs(served_model: str) -> Iterator[Callable[[], Stub]]:
    """Start stub backends on demand; all stopped after the test."""
    yield from _started(lambda: Stub(served_model))


@pytest.fixture
def spawn_gateway(services: dict[str, Any]) -> Iterator[Callable[..., Gateway]]:
    """Start extra gateway processes against the real database and Keycloak."""

    def spawn(backends: list[str], **settings: str | int | float) -> Gateway:
        env = {
            "APPLIANCE_DATABASE_URL": services["database_url"],
            "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": ",".join(backends),
        }
        env |= {f"APPLIANCE_{key.upper()}": str(value) for key, value in settings.items()}
        return Gateway(env)

    yield from _started(spawn)
