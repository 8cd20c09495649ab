"""The local Keycloak as the account tests see it behind the gateway's back.

The gateway's account routes change the shared, persistent realm: a test checks what they
did, and removes what it made, as Keycloak's own admin (:func:`master_admin`); a gateway that
serves those routes needs the accounts client's secret, which ``appliance up`` saved
(:func:`accounts_client_secret`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from keycloak import KeycloakAdmin

from tests.support.paths import REPO

SECRETS = REPO / "var" / "secrets"


def master_admin(services: Mapping[str, Any]) -> KeycloakAdmin:
    """Keycloak's own admin, to look behind the gateway's back and to clean up."""
    return KeycloakAdmin(
        server_url=services["keycloak"]["url"],
        username="admin",
        password=(SECRETS / "keycloak_admin_password").read_text().strip(),
        realm_name=services["keycloak"]["realm"],
        user_realm_name="master",
    )


def accounts_client_secret() -> str:
    """The accounts client's secret; the test fails, saying why, when there is none."""
    secret_file = SECRETS / "keycloak_accounts_client_secret"
    if not secret_file.exists():
        pytest.fail("no accounts client secret: run `appliance up` once with this checkout")
    return secret_file.read_text().strip()
