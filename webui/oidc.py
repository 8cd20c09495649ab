"""Keycloak sign-in for the web UI: OpenID Connect authorization code flow with PKCE.

The web UI is a confidential client: the code is exchanged for tokens on the server, with
the client secret and the PKCE verifier, so the tokens never pass through the browser. The
ID token arrives over that direct back channel, which is why its claims (the nonce) are
read without verifying its signature (OpenID Connect Core 3.1.3.7); the gateway verifies
every access token it receives.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

SCOPES = "openid profile email"


class OIDCError(Exception):
    """Keycloak refused or failed a sign-in, refresh or discovery step."""


@dataclass(frozen=True, slots=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    end_session_endpoint: str


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback needs to finish a sign-in that the browser started."""

    state: str
    nonce: str
    verifier: str
    created_at: float

    @classmethod
    def new(cls) -> PendingLogin:
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(64),
            created_at=time.time(),
        )

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str
    id_token: str
    expires_at: float
    refresh_expires_at: float

    @classmethod
    def from_response(cls, body: dict[str, Any], *, previous_id_token: str = "") -> TokenSet:
        now = time.time()
        refresh_lifetime = float(body.get("refresh_expires_in") or 0)
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token", "")),
            id_token=str(body.get("id_token") or previous_id_token),
            expires_at=now + float(body.get("expires_in", 60)),
            # Keycloak reports 0 for offline tokens, which do not expire on their own.
            refresh_expires_at=now + refresh_lifetime if refresh_lifetime else float("inf"),
        )


class OIDCClient:
    """The three calls the web UI makes to Keycloak, plus the URLs it sends browsers to."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        http: httpx.AsyncClient,
    ) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._http = http
        self._provider: Provider | None = None

    async def provider(self) -> Provider:
        """The realm's endpoints, from its discovery document (fetched once)."""
        if self._provider is None:
            url = f"{self._issuer}/.well-known/openid-configuration"
            try:
                response = await self._http.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise OIDCError(f"Keycloak discovery failed: {exc}") from exc
            doc = response.json()
            self._provider = Provider(
                authorization_endpoint=doc["authorization_endpoint"],
                token_endpoint=doc["token_endpoint"],
                end_session_endpoint=doc["end_session_endpoint"],
            )
        return self._provider

    async def authorization_url(self, pending: PendingLogin, *, ui_locale: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": self.redirect_uri,
            "scope": SCOPES,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
            "ui_locales": ui_locale,
        }
        return f"{(await self.provider()).authorization_endpoint}?{urlencode(params)}"

    async def exchange(self, code: str, pending: PendingLogin) -> TokenSet:
        """Trade the authorization code for tokens; the ID token must carry our nonce."""
        body = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": pending.verifier,
            }
        )
        tokens = TokenSet.from_response(body)
        claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
        if claims.get("nonce") != pending.nonce:
            raise OIDCError("the ID token's nonce does not match the sign-in request")
        return tokens

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        body = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        return TokenSet.from_response(body, previous_id_token=tokens.id_token)

    async def logout_url(self, id_token: str, *, post_logout_redirect_uri: str) -> str:
        """RP-initiated logout: Keycloak ends its session, then sends the browser back."""
        params = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self._client_id,
        }
        return f"{(await self.provider()).end_session_endpoint}?{urlencode(params)}"

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        provider = await self.provider()
        try:
            response = await self._http.post(
                provider.token_endpoint,
                data=form,
                auth=(self._client_id, self._client_secret),
            )
        except httpx.HTTPError as exc:
            raise OIDCError(f"Keycloak token endpoint unreachable: {exc}") from exc
        if response.status_code != 200:
            raise OIDCError(f"Keycloak refused the token request: {response.text[:200]}")
        body: dict[str, Any] = response.json()
        return body
