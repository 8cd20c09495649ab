"""The local runtime's password-grant client is accepted only where the runtime turns it on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from appliance.auth.verifier import VerificationKey, verify_access_token
from appliance.errors import Unauthenticated
from appliance.runtime import gateway_service
from appliance.runtime.endpoints import DEV_CLIENT_ID
from appliance.runtime.paths import RuntimePaths
from appliance.settings import KeycloakSettings, Settings
from tests.support.auth.mint import ISSUER, Mint, access_claims


def _verify(token: str, keys: dict[str, VerificationKey], settings: KeycloakSettings) -> str:
    principal = verify_access_token(
        token,
        keys=keys,
        issuer=ISSUER,
        audience=settings.audience,
        allowed_clients=settings.allowed_clients,
        algorithms=settings.algorithms,
        leeway_s=settings.leeway_s,
    )
    return principal.client_id


def test_default_settings_refuse_a_token_of_the_dev_client(
    mint: Mint, keys: dict[str, VerificationKey]
) -> None:
    defaults = KeycloakSettings()
    assert DEV_CLIENT_ID not in defaults.allowed_clients
    token = mint(access_claims(azp=DEV_CLIENT_ID))
    with pytest.raises(Unauthenticated) as refused:
        _verify(token, keys, defaults)
    assert refused.value.code == "bad_audience"
    # The web UI's tokens are still accepted.
    assert _verify(mint(access_claims(azp="appliance-webui")), keys, defaults) == "appliance-webui"


def test_the_runtime_settings_turn_the_dev_client_on(
    mint: Mint, keys: dict[str, VerificationKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = json.loads(gateway_service.local_allowed_clients())
    assert listed == [*KeycloakSettings().allowed_clients, DEV_CLIENT_ID]
    monkeypatch.setenv(
        "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS", gateway_service.local_allowed_clients()
    )
    local = Settings().keycloak
    assert _verify(mint(access_claims(azp=DEV_CLIENT_ID)), keys, local) == DEV_CLIENT_ID


def test_the_rendered_runtime_file_names_the_dev_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = RuntimePaths(tmp_path)
    values = gateway_service.render_settings(paths)
    assert DEV_CLIENT_ID in json.loads(values["APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS"])
    for name in list(os.environ):
        if name.startswith("APPLIANCE_"):
            monkeypatch.delenv(name)
    loaded = Settings(_env_file=paths.settings_file)
    assert DEV_CLIENT_ID in loaded.keycloak.allowed_clients
