"""The realm's signing keys, fetched by OIDC discovery and cached in memory.

Keys are looked up by ``kid``. A miss refetches the key set, but at most once per
``min_refresh_interval_s``: a flood of tokens with invented key ids costs Keycloak one
request per interval, and concurrent misses wait on the same fetch (one lock). When
Keycloak cannot be reached, kids already cached keep working; an unknown kid then gets a
503, because the gateway cannot tell a rotated key from a forged one.

The HTTP calls go through python-keycloak's async API (``a_well_known``, and its
connection's ``a_raw_get`` for the ``jwks_uri`` the discovery document names), so the
client's timeouts and retries are the same as everywhere else that talks to Keycloak.
When the gateway reaches Keycloak at another address than the public issuer (behind a
reverse proxy, or on an internal network), ``jwks_url`` names the key set directly and
discovery is skipped: Keycloak would describe itself with the address it was asked on,
not the issuer the tokens carry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

from appliance.auth.verifier import PUBLIC_KEY_TYPES, VerificationKey, pinned_algorithms
from appliance.errors import ServiceUnavailable, Unauthenticated

log = logging.getLogger(__name__)

_REALM_MARKER = "/realms/"


def _split_issuer(issuer: str) -> tuple[str, str]:
    """``http://host:port/realms/name`` -> (``http://host:port/``, ``name``)."""
    base, marker, realm = issuer.rstrip("/").rpartition(_REALM_MARKER)
    if not marker or not realm or "/" in realm:
        raise ValueError(f"not a Keycloak realm issuer URL: {issuer!r}")
    return base + "/", realm


def parse_jwks(document: object, algorithms: Iterable[str]) -> dict[str, VerificationKey]:
    """Signing keys by kid; encryption keys and keys for unpinned algorithms are left out."""
    pinned = pinned_algorithms(algorithms)
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str, VerificationKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid, alg = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or (alg is not None and alg not in pinned):
            continue
        try:
            public = PyJWK(entry).key
        except (PyJWKError, InvalidKeyError) as exc:
            log.warning("ignoring unusable JWK %s: %s", kid, exc)
            continue
        # Only public asymmetric keys: an `oct` (HMAC) or private JWK never verifies a token.
        if isinstance(public, PUBLIC_KEY_TYPES):
            keys[kid] = VerificationKey(key=public, algorithm=alg)
    return keys


class JwksCache:
    """Signing keys of one Keycloak realm, refetched on unknown kids with a rate limit."""

    def __init__(
        self,
        issuer: str,
        *,
        algorithms: Iterable[str],
        min_refresh_interval_s: float = 30.0,
        timeout_s: float = 3.0,
        jwks_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        server_url, realm = _split_issuer(issuer)
        self._issuer = issuer
        self._algorithms = pinned_algorithms(algorithms)
        self._interval = min_refresh_interval_s
        self._clock = clock
        self._openid = KeycloakOpenID(
            server_url=server_url,
            realm_name=realm,
            client_id="",
            timeout=max(1, math.ceil(timeout_s)),
        )
        self._jwks_uri: str | None = jwks_url or None
        self._keys: dict[str, VerificationKey] = {}
        self._last_attempt: float | None = None
        self._last_failed = False
        self._lock = asyncio.Lock()
        # Number of JWKS fetches attempted (for tests and metrics).
        self.fetch_count = 0

    async def key_for(self, kid: str) -> VerificationKey:
        """The key for ``kid``; refetch the set if it is unknown and a refetch is due."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and self._refresh_due():
                await self._refresh()
                key = self._keys.get(kid)
            if key is not None:
                return key
            if self._last_failed:
                raise ServiceUnavailable(
                    "The identity provider cannot be reached to check this token's key.",
                    code="identity_provider_unavailable",
                )
            raise Unauthenticated("The access token's signing key is unknown.", code="unknown_key")

    async def refresh(self) -> None:
        """Fetch the key set now (at start-up), regardless of the rate limit."""
        async with self._lock:
            await self._refresh()

    async def aclose(self) -> None:
        await self._openid.connection.aclose()

    def _refresh_due(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self._interval

    async def _refresh(self) -> None:
        self._last_attempt = self._clock()
        self.fetch_count += 1
        try:
            self._keys = parse_jwks(await self._fetch(), self._algorithms)
        except (KeycloakError, ValueError) as exc:
            self._last_failed = True
            log.warning("fetching the signing keys of %s failed: %s", self._issuer, exc)
            return
        self._last_failed = False

    async def _fetch(self) -> Any:
        if self._jwks_uri is None:
            discovery = await self._openid.a_well_known()
            if not isinstance(discovery, dict) or discovery.get("issuer") != self._issuer:
                raise ValueError("discovery document names a different issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError("discovery document has no jwks_uri")
            self._jwks_uri = jwks_uri
        response = await self._openid.connection.a_raw_get(self._jwks_uri)
        if response.status_code != 200:
            raise ValueError(f"JWKS endpoint answered HTTP {response.status_code}")
        return response.json()
