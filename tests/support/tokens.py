"""Access tokens of the demo users from the local Keycloak's real token endpoint.

A password grant with the local dev client (``var/endpoints.json`` names it and the demo
users), cached per user until shortly before the token expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx


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
