"""Claims and encodings shared by the auth unit tests (a plain module, not a conftest)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from appliance.auth.principal import Principal
from appliance.auth.verifier import VerificationKey, verify_access_token

ISSUER = "http://127.0.0.1:8180/realms/appliance"
AUDIENCE = "appliance-gateway"
ALLOWED_CLIENTS = ("appliance-webui", "appliance-dev", "appliance-gateway")
ALGORITHMS = ("RS256", "ES256", "PS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Claims shaped like a Keycloak 26 access token of the dev client."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "exp": now + 300,
        "iat": now,
        "jti": "0c3e1d9a-token",
        "iss": ISSUER,
        "aud": [AUDIENCE, "account"],
        "sub": "5f1f2b8e-user",
        "typ": "Bearer",
        "azp": "appliance-dev",
        "sid": "a7c9-session",
        "realm_access": {"roles": ["staff", "kb-editor", "default-roles-appliance"]},
        "groups": ["/dept/finance"],
        "preferred_username": "li.na",
        "email": "li.na@example.test",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


Mint = Callable[..., str]


def verify(token: str, keys: Mapping[str, VerificationKey], **options: Any) -> Principal:
    """:func:`verify_access_token` with the settings these tokens are minted for (this
    issuer, audience, clients and algorithms, 30 s of leeway); ``options`` override them."""
    settings: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "allowed_clients": ALLOWED_CLIENTS,
        "algorithms": ALGORITHMS,
        "leeway_s": 30,
    }
    settings.update(options)
    return verify_access_token(token, keys=keys, **settings)
