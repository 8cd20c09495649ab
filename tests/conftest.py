"""Shared fixtures for every test that needs the running appliance.

Tests find the services through ``var/endpoints.json``, written by ``appliance up``. If that
file is missing or the gateway does not answer, the session runs ``appliance up`` itself
(it is idempotent), so a plain ``pytest`` works on a fresh checkout. Tokens come from
Keycloak's real token endpoint with the local dev client (password grant), cached per user
until shortly before they expire.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
ENDPOINTS_FILE = REPO / "var" / "endpoints.json"
APPLIANCE = Path(sys.executable).parent / "appliance"
UP_TIMEOUT_S = 3600


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def load_endpoints() -> dict[str, Any]:
    return dict(json.loads(ENDPOINTS_FILE.read_text())) if ENDPOINTS_FILE.exists() else {}


def _identity_up(endpoints: dict[str, Any]) -> bool:
    issuer = endpoints.get("keycloak", {}).get("issuer")
    return bool(issuer and endpoints.get("users")) and _answers(
        f"{issuer}/.well-known/openid-configuration"
    )


def _gateway_up(endpoints: dict[str, Any]) -> bool:
    return "gateway_url" in endpoints and _answers(f"{endpoints['gateway_url']}/healthz")


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


@dataclass
class _Cached:
    token: str
    expires_at: float


class Tokens:
    """Access tokens of the demo users from Keycloak's token endpoint (dev client)."""

    def __init__(self, endpoints: dict[str, Any]) -> None:
        keycloak = endpoints["keycloak"]
        self.token_url = f"{keycloak['issuer']}/protocol/openid-connect/token"
        self.client_id = keycloak["dev_client_id"]
        self.users = {user["username"]: user for user in endpoints["users"]}
        self._cache: dict[str, _Cached] = {}

    def password(self, username: str) -> str:
        return str(self.users[username]["password"])

    def __call__(self, username: str) -> str:
        cached = self._cache.get(username)
        if cached is not None and cached.expires_at - time.time() > 30:
            return cached.token
        response = httpx.post(
            self.token_url,
            data={
                "grant_type": "password",
                "client_id": self.client_id,
                "username": username,
                "password": self.password(username),
                "scope": "openid",
            },
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        token = str(body["access_token"])
        self._cache[username] = _Cached(token, time.time() + float(body["expires_in"]))
        return token

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self(username)}"}

    def with_role(self, role: str) -> str:
        """A demo user holding ``role``."""
        for name, user in self.users.items():
            if role in user["roles"]:
                return name
        raise LookupError(f"no demo user has the role {role!r}")


@pytest.fixture(scope="session")
def tokens(services: dict[str, Any]) -> Tokens:
    return Tokens(services)


@pytest.fixture
def gateway(gateway_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client pointed at the appliance's gateway."""
    with httpx.Client(base_url=gateway_url, timeout=120) as client:
        yield client
