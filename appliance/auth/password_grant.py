"""The OAuth password grant against Keycloak's token endpoint, for the appliance's own tools.

The CLI signs its user in with it, and the local runtime signs in its demo kb-editor to seed
the demo knowledge base; both post the same form to the same endpoint. The gateway never
uses it: it only verifies the tokens this returns.
"""

from __future__ import annotations


def password_grant(
    issuer: str, client_id: str, username: str, password: str, **extra: str
) -> tuple[str, dict[str, str]]:
    """The token endpoint's URL and the form that asks it for ``username``'s tokens."""
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "username": username,
        "password": password,
        **extra,
    }
    return f"{issuer}/protocol/openid-connect/token", form
