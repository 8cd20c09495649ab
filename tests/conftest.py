"""Shared fixtures for every test that needs the running appliance.

Tests find the services through ``var/endpoints.json``, written by ``appliance up``. If that
file is missing or the gateway does not answer, the session runs ``appliance up`` itself
(it is idempotent), so a plain ``pytest`` works on a fresh checkout. The demo users who chat
start each session with an unspent daily quota (``tests/support/demo_quota.py``), so the
suite passes on an appliance that has served a day of use as on a fresh one. Tokens come from
Keycloak's real token endpoint with the local dev client (password grant), cached per user
until shortly before they expire.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.demo_quota import renew_spent_demo_users
from tests.support.paths import REPO, load_endpoints
from tests.support.process import answers
from tests.support.tokens import Tokens

APPLIANCE = Path(sys.executable).parent / "appliance"
UP_TIMEOUT_S = 3600


def _identity_up(endpoints: dict[str, Any]) -> bool:
    issuer = endpoints.get("keycloak", {}).get("issuer")
    return bool(issuer and endpoints.get("users")) and answers(
        f"{issuer}/.well-known/openid-configuration", 3
    )


def _gateway_up(endpoints: dict[str, Any]) -> bool:
    return "gateway_url" in endpoints and answers(f"{endpoints['gateway_url']}/healthz")


def _appliance_up() -> None:
    subprocess.run([str(APPLIANCE), "up"], cwd=REPO, check=True, timeout=UP_TIMEOUT_S)


@pytest.fixture(scope="session")
def services() -> dict[str, Any]:
    """var/endpoints.json once PostgreSQL and Keycloak are up (enough for tests that start
    their own gateways); runs ``appliance up`` first when they are not."""
    found = load_endpoints()
    if not _identity_up(found):
        _appliance_up()
        found = load_endpoints()
    if not _identity_up(found):
        pytest.fail("`appliance up` finished but Keycloak or var/endpoints.json is missing")
    # Nothing the day's earlier use of this appliance spent may refuse a test's chat.
    renew_spent_demo_users(found)
    return found


@pytest.fixture(scope="session")
def endpoints(services: dict[str, Any]) -> dict[str, Any]:
    """var/endpoints.json of the whole running appliance, gateway and vLLM included."""
    found = services
    if not _gateway_up(found):
        _appliance_up()
        found = load_endpoints()
    if not _gateway_up(found):
        pytest.fail(f"`appliance up` finished but the gateway at {found['gateway_url']} is down")
    return found


@pytest.fixture(scope="session")
def gateway_url(endpoints: dict[str, Any]) -> str:
    return str(endpoints["gateway_url"])


@pytest.fixture(scope="session")
def served_model(services: dict[str, Any]) -> str:
    return str(services["model"])


@pytest.fixture(scope="session")
def tokens(services: dict[str, Any]) -> Tokens:
    return Tokens(services)


@pytest.fixture
def gateway(gateway_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client pointed at the appliance's gateway."""
    with httpx.Client(base_url=gateway_url, timeout=120) as client:
        yield client
