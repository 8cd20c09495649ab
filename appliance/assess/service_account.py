"""The assessment's own identity: a token of the ``svc-assessment`` confidential client
(client-credentials grant), fetched again shortly before it expires.

The run calls the gateway as this service account, never as a person, so its chats are told
apart in the audit log (``service-account-svc-assessment``) and count against no one's
quota. Its only realm role is ``staff`` and it belongs to no department: it may chat and
reach no knowledge base. Tokens last minutes while a bank can take hours on a slow model,
so :class:`ClientCredentials` (an ``httpx.Auth``) renews the token before each request
that would otherwise carry an expired one, and once more on a 401.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import httpx

CLIENT_ID = "svc-assessment"
# Renew this long before the token's own expiry, for the clock skew and the request's time.
RENEW_MARGIN_S = 30.0


class TokenError(Exception):
    """Keycloak refused the client's credentials; the message is for the operator."""


class ClientCredentials(httpx.Auth):
    def __init__(
        self, issuer: str, client_id: str, secret: str, *, timeout_s: float = 30.0
    ) -> None:
        self._url = f"{issuer.rstrip('/')}/protocol/openid-connect/token"
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        }
        self._timeout_s = timeout_s
        self._token = ""
        self._expires_at = 0.0

    def token(self) -> str:
        if not self._token or time.monotonic() >= self._expires_at - RENEW_MARGIN_S:
            self._fetch()
        return self._token

    def _fetch(self) -> None:
        response = httpx.post(self._url, data=self._form, timeout=self._timeout_s)
        if response.status_code != 200:
            try:
                reason = str(response.json().get("error_description") or response.json())
            except ValueError:
                reason = response.text[:200]
            raise TokenError(
                f"Keycloak refused the client {self._form['client_id']!r}"
                f" ({response.status_code}): {reason}"
            )
        body = response.json()
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + float(body.get("expires_in", 60))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            self._fetch()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request
