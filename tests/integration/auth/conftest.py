"""The local runtime's Keycloak, found through var/endpoints.json (written by `appliance up`)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

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
