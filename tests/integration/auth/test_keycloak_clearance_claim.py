"""The data grade clearance from the real Keycloak: the user attribute, mapped into access
tokens, reaches the gateway's principal; the user cannot raise it; an administrator can.

The demo users carry the clearances ``appliance up`` gives them (``demo_users``): zhang.wei
一般, li.na 重要, wang.fang 核心, and sun.li none, which the gateway reads as the lowest.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from appliance.auth.authenticator import Authenticator
from appliance.rag.config import RagSettings
from appliance.rag.grades import clearance_level
from tests.support.keycloak_admin import master_admin
from tests.support.paths import load_endpoints

pytestmark = pytest.mark.services

DEMO = {"zhang.wei": "一般", "li.na": "重要", "wang.fang": "核心", "sun.li": ""}


def _password(endpoints: dict[str, Any], username: str) -> str:
    return str(next(u for u in endpoints["users"] if u["username"] == username)["password"])


def _token(endpoints: dict[str, Any], username: str) -> str:
    keycloak = endpoints["keycloak"]
    answer = httpx.post(
        f"{keycloak['issuer']}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": keycloak["dev_client_id"],
            "username": username,
            "password": _password(endpoints, username),
            "scope": "openid",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.mark.parametrize(("username", "clearance"), sorted(DEMO.items()))
async def test_the_token_clearance_reaches_the_principal(
    keycloak_endpoints: dict[str, Any],
    authenticator: Authenticator,
    username: str,
    clearance: str,
) -> None:
    token = _token(keycloak_endpoints, username)
    principal = await authenticator.authenticate(f"Bearer {token}")
    assert principal.username == username
    assert principal.clearance == clearance
    expected_level = {"": 1, "一般": 1, "重要": 2, "核心": 3}[clearance]
    assert clearance_level(principal.clearance, RagSettings().grades) == expected_level


async def test_a_user_cannot_raise_their_own_clearance(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator
) -> None:
    account = f"{keycloak_endpoints['keycloak']['issuer']}/account"
    headers = {
        "Authorization": f"Bearer {_token(keycloak_endpoints, 'li.na')}",
        "Accept": "application/json",
    }
    me = httpx.get(account, headers=headers, timeout=30)
    assert me.status_code == 200, me.text
    raised = {
        **me.json(),
        "attributes": {**(me.json().get("attributes") or {}), "clearance": ["核心"]},
    }
    refused = httpx.post(account, headers=headers, json=raised, timeout=30)
    assert refused.status_code == 400, refused.text
    assert "read-only" in refused.text
    principal = await authenticator.authenticate(f"Bearer {_token(keycloak_endpoints, 'li.na')}")
    assert principal.clearance == "重要"


async def test_an_administrator_sets_a_clearance_and_the_next_token_carries_it(
    keycloak_endpoints: dict[str, Any], authenticator: Authenticator
) -> None:
    admin = master_admin(load_endpoints())
    user_id = admin.get_user_id("sun.li")
    assert user_id is not None
    user = admin.get_user(user_id)
    before = dict(user.get("attributes") or {})
    try:
        admin.update_user(user_id, {**user, "attributes": {**before, "clearance": ["重要"]}})
        principal = await authenticator.authenticate(
            f"Bearer {_token(keycloak_endpoints, 'sun.li')}"
        )
        assert principal.clearance == "重要"
    finally:
        admin.update_user(user_id, {**admin.get_user(user_id), "attributes": before})
    principal = await authenticator.authenticate(f"Bearer {_token(keycloak_endpoints, 'sun.li')}")
    assert principal.clearance == ""
