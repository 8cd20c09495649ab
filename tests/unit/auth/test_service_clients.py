"""Integration clients (``svc-*``): accepted by their prefix, but only with our audience."""

from __future__ import annotations

import pytest

from appliance.auth.verifier import VerificationKey
from appliance.errors import Unauthenticated
from tests.support.auth.mint import (
    AUDIENCE,
    Mint,
    access_claims,
    verify,
)


def _verify(token: str, keys: dict[str, VerificationKey], prefix: str = "svc-") -> str:
    return verify(token, keys, service_client_prefix=prefix).client_id


def test_integration_client_with_our_audience_is_accepted(
    mint: Mint, keys: dict[str, VerificationKey]
) -> None:
    token = mint(access_claims(azp="svc-crm", aud=AUDIENCE))
    assert _verify(token, keys) == "svc-crm"


@pytest.mark.parametrize(
    ("azp", "aud", "prefix"),
    [
        ("svc-crm", "account", "svc-"),  # no audience mapper: not meant for us
        ("svc-", AUDIENCE, "svc-"),  # the bare prefix names no client
        ("crm", AUDIENCE, "svc-"),  # an arbitrary client of the realm
        ("svc-crm", AUDIENCE, ""),  # integration clients switched off
    ],
)
def test_other_clients_are_refused(
    mint: Mint, keys: dict[str, VerificationKey], azp: str, aud: str, prefix: str
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        _verify(mint(access_claims(azp=azp, aud=aud)), keys, prefix)
    assert refused.value.code == "bad_audience"
