"""Real tokens from the local Keycloak, verified against its real JWKS."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from keycloak import KeycloakOpenID

from appliance.auth.authenticator import Authenticator
from appliance.errors import Unauthenticated

pytestmark = pytest.mark.services


def user(endpoints: dict[str, Any], username: str) -> dict[str, Any]:
    return next(u for u in endpoints["users"] if u["username"] == username)


async def password_grant(
    endpoints: dict[str, Any], username: str, scope: str = "openid"
) -> dict[str, Any]:
    keycloak = endpoints["keycloak"]
    client = KeycloakOpenID(
        server_url=keycloak["url"] + "/",
        realm_name=keycloak["realm"],
        client_id=keycloak["dev_client_id"],
    )
    try:
        tokens: dict[str, Any] = await client.a_token(
            username, user(endpoints, username)["password"], scope=scope
        )
    finally:
        await client.connection.aclose()
    return tokens


@pytest.mark.parametrize("username", ["li.na", "wang.fang", "liu.yang", "sun.li"])
async def test_real_access_token_gives_roles_and_groups(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator, username: str
) -> None:
    expected = user(keycloak_endpoints, username)
    tokens = await password_grant(keycloak_endpoints, username)
    principal = await authenticator.authenticate(f"Bearer {tokens['access_token']}")
    assert principal.username == username
    assert principal.client_id == keycloak_endpoints["keycloak"]["dev_client_id"]
    assert principal.groups == frozenset(expected["groups"])
    assert set(expected["roles"]) <= principal.roles
    admin_roles = {"staff", "kb-editor", "sysadmin", "secadmin", "auditor"}
    assert principal.roles & admin_roles == set(expected["roles"])


async def _refusal(authenticator: Authenticator, token: str) -> str:
    """The code of the ``Unauthenticated`` that ``token`` as a bearer token is refused with."""
    with pytest.raises(Unauthenticated) as caught:
        await authenticator.authenticate(f"Bearer {token}")
    return caught.value.code


async def test_payload_tampered_real_token_is_refused(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator
) -> None:
    tokens = await password_grant(keycloak_endpoints, "zhang.wei")
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"] = {"roles": ["auditor", "secadmin", "sysadmin"]}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert await _refusal(authenticator, f"{header}.{forged}.{signature}") == "bad_signature"


async def test_real_id_and_refresh_tokens_are_not_access_tokens(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator
) -> None:
    tokens = await password_grant(keycloak_endpoints, "zhang.wei")
    assert await _refusal(authenticator, tokens["id_token"]) == "wrong_token_type"
    # Keycloak signs refresh tokens with the realm's HMAC key: refused before any lookup.
    assert await _refusal(authenticator, tokens["refresh_token"]) == "bad_algorithm"


async def test_real_jwks_is_fetched_once_for_many_tokens(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator
) -> None:
    for username in ["zhang.wei", "chen.jie", "zhao.min"]:
        tokens = await password_grant(keycloak_endpoints, username)
        assert (
            await authenticator.authenticate(f"Bearer {tokens['access_token']}")
        ).username == username
    assert authenticator.jwks.fetch_count == 1
