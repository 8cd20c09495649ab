"""The local runtime's Keycloak, found through var/endpoints.json (written by `appliance up`),
and the gateway's authenticator pointed at it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from appliance.auth.authenticator import Authenticator
from appliance.runtime.gateway_service import local_allowed_clients
from appliance.settings import KeycloakSettings
from tests.support.paths import ENDPOINTS_FILE, load_endpoints

WAIT_S = 180.0


def _ready(endpoints: dict[str, Any]) -> bool:
    if not endpoints.get("users"):
        return False
    issuer = endpoints["keycloak"]["issuer"]
    try:
        response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@pytest.fixture(scope="session")
def keycloak_endpoints() -> dict[str, Any]:
    """endpoints.json once Keycloak answers; fails (never skips) if the runtime is not up."""
    deadline = time.monotonic() + WAIT_S
    while True:
        endpoints = load_endpoints()
        if endpoints and _ready(endpoints):
            return endpoints
        if time.monotonic() > deadline:
            pytest.fail(
                f"local runtime not up: {ENDPOINTS_FILE} missing, no users, or Keycloak down"
            )
        time.sleep(2)


@pytest.fixture
async def authenticator(keycloak_endpoints: dict[str, Any]) -> AsyncIterator[Authenticator]:
    # The dev client's tokens, accepted as the local runtime's settings accept them.
    settings = KeycloakSettings(
        issuer=keycloak_endpoints["keycloak"]["issuer"],
        allowed_clients=json.loads(local_allowed_clients()),
    )
    auth = Authenticator(settings)
    yield auth
    await auth.aclose()
