"""From an ``Authorization`` header to a :class:`Principal`, for the gateway's dependency.

Glues the pure verifier to the JWKS cache: the header is checked first (so a garbage token
never causes a key lookup, let alone a fetch), then the key is found by ``kid``, then the
token is verified against that one key with the settings' pinned rules.
"""

from __future__ import annotations

from appliance.auth.jwks import JwksCache
from appliance.auth.principal import Principal
from appliance.auth.verifier import pinned_algorithms, read_header, verify_access_token
from appliance.errors import Unauthenticated
from appliance.settings import KeycloakSettings

_SCHEME = "bearer"


def bearer_token(authorization_header: str | None) -> str:
    """The token of a ``Bearer`` header (scheme case-insensitive, RFC 7235)."""
    scheme, _, token = (authorization_header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token:
        raise Unauthenticated("A Bearer access token is required.", code="missing_token")
    return token


class Authenticator:
    """Verifies access tokens of the configured Keycloak realm; one per gateway process."""

    def __init__(self, settings: KeycloakSettings, *, jwks: JwksCache | None = None) -> None:
        self._settings = settings
        self._algorithms = pinned_algorithms(settings.algorithms)
        self._allowed_clients = frozenset(settings.allowed_clients)
        self.jwks = jwks or JwksCache(
            settings.issuer,
            algorithms=self._algorithms,
            min_refresh_interval_s=settings.jwks_min_refresh_interval_s,
            timeout_s=settings.http_timeout_s,
            jwks_url=settings.jwks_url or None,
        )

    async def authenticate(self, authorization_header: str | None) -> Principal:
        """The verified caller, or ``Unauthenticated`` (401) / ``ServiceUnavailable`` (503)."""
        token = bearer_token(authorization_header)
        header = read_header(token, self._algorithms)
        key = await self.jwks.key_for(header.key_id)
        return verify_access_token(
            token,
            keys={header.key_id: key},
            issuer=self._settings.issuer,
            audience=self._settings.audience,
            allowed_clients=self._allowed_clients,
            algorithms=self._algorithms,
            leeway_s=self._settings.leeway_s,
            service_client_prefix=self._settings.service_client_prefix,
        )

    async def aclose(self) -> None:
        await self.jwks.aclose()
