"""The local runtime's Keycloak, found through var/endpoints.json (written by `appliance up`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ENDPOINTS = Path(__file__).resolve().parents[3] / "var" / "endpoints.json"
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
        endpoints = json.loads(ENDPOINTS.read_text()) if ENDPOINTS.exists() else {}
        if endpoints and _ready(endpoints):
            return endpoints
        if time.monotonic() > deadline:
            pytest.fail(f"local runtime not up: {ENDPOINTS} missing, no users, or Keycloak down")
        time.sleep(2)
