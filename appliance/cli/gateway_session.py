"""How an administrator's command reaches the gateway: its URL and the admin's own token.

The account commands never talk to Keycloak's admin API: they call the gateway, which
enforces 三员分立 and audits, with the administrator's access token. The token comes from
``APPLIANCE_TOKEN`` or from signing in as the administrator (password grant of the public
``appliance-cli`` client, username and password asked on the terminal, never echoed).

Defaults, in order: ``--gateway``, ``APPLIANCE_GATEWAY_URL``, the local runtime's
``var/endpoints.json``, ``http://127.0.0.1:8080``; the issuer likewise from ``--issuer``,
``APPLIANCE_ISSUER``, ``var/endpoints.json``, else ``<gateway>/auth/realms/appliance`` (the
path nginx gives Keycloak on a deployed site).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from appliance.auth.password_grant import password_grant
from appliance.runtime.endpoints import CLI_CLIENT_ID, GATEWAY_URL, REALM
from appliance.runtime.paths import RuntimePaths

GATEWAY_ENV = "APPLIANCE_GATEWAY_URL"
ISSUER_ENV = "APPLIANCE_ISSUER"
TOKEN_ENV = "APPLIANCE_TOKEN"  # noqa: S105 - the name of a variable, not a secret
TIMEOUT_S = 60.0


class GatewayError(Exception):
    """The gateway (or Keycloak, signing in) said no; the message is for the operator."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def of(cls, response: httpx.Response) -> GatewayError:
        """A refusal with the gateway's own code and message, or, where its body is not the
        gateway's error shape (a proxy's page), the status and the body's start."""
        try:
            error = response.json()["error"]
            code, message = str(error.get("code")), str(error.get("message"))
        except (ValueError, KeyError, TypeError):
            code, message = str(response.status_code), response.text[:200]
        return cls(response.status_code, code, message)


def _local_endpoints() -> dict[str, Any]:
    path = RuntimePaths.default().endpoints_file
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def gateway_url(option: str | None) -> str:
    chosen = option or os.environ.get(GATEWAY_ENV) or _local_endpoints().get("gateway_url")
    return str(chosen or GATEWAY_URL).rstrip("/")


def issuer_url(option: str | None, gateway: str) -> str:
    local = _local_endpoints().get("keycloak", {}).get("issuer")
    chosen = option or os.environ.get(ISSUER_ENV) or local
    return str(chosen or f"{gateway}/auth/realms/{REALM}").rstrip("/")


def sign_in(issuer: str, username: str, password: str) -> str:
    """An access token for ``username`` from the ``appliance-cli`` client."""
    url, form = password_grant(issuer, CLI_CLIENT_ID, username, password, scope="openid")
    response = httpx.post(url, data=form, timeout=TIMEOUT_S)
    if response.status_code != 200:
        try:
            body = response.json()
            code = str(body.get("error", "sign_in_failed"))
            message = str(body.get("error_description") or code)
        except ValueError:
            code, message = "sign_in_failed", response.text[:200]
        raise GatewayError(response.status_code, code, f"signing in failed: {message}")
    return str(response.json()["access_token"])


def access_token(
    issuer: str,
    username: str | None,
    *,
    ask: Callable[[str], str] = input,
    ask_secret: Callable[[str], str] = getpass.getpass,
) -> str:
    """``APPLIANCE_TOKEN`` if set, else a sign-in with the name and password asked for."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    name = username or ask("Administrator username: ").strip()
    return sign_in(issuer, name, ask_secret(f"Password for {name}: "))


@dataclass
class Gateway:
    """The admin API of one gateway, called with one administrator's token."""

    client: httpx.Client

    @classmethod
    def open(cls, url: str, token: str) -> Gateway:
        headers = {"Authorization": f"Bearer {token}"}
        return cls(httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON, or ``GatewayError`` with the gateway's own code and message."""
        response = self.client.request(method, path, json=body)
        if response.status_code >= 400:
            raise GatewayError.of(response)
        return response.json() if response.content else None

    def close(self) -> None:
        self.client.close()
