"""The Authenticator: header parsing, then kid lookup via a real local JWKS, then checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from appliance.auth.authenticator import Authenticator
from appliance.errors import Unauthenticated
from appliance.settings import KeycloakSettings
from tests.support.auth.local_idp import LocalIdp
from tests.support.auth.mint import ALLOWED_CLIENTS, Mint, access_claims


@pytest.fixture
def idp(rsa_key: rsa.RSAPrivateKey) -> Iterator[LocalIdp]:
    server = LocalIdp()
    jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    server.jwks = [{**jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"}]
    yield server
    server.stop()


@pytest.fixture
async def authenticator(idp: LocalIdp) -> AsyncIterator[Authenticator]:
    # The minted tokens are the local dev client's, which only the runtime's settings allow.
    auth = Authenticator(KeycloakSettings(issuer=idp.issuer, allowed_clients=[*ALLOWED_CLIENTS]))
    yield auth
    await auth.aclose()


async def test_bearer_token_gives_the_principal(
    authenticator: Authenticator, idp: LocalIdp, mint: Mint
) -> None:
    token = mint(access_claims(iss=idp.issuer))
    principal = await authenticator.authenticate(f"Bearer {token}")
    assert principal.username == "li.na"
    assert principal.roles >= {"staff", "kb-editor"}
    assert (await authenticator.authenticate(f"bearer  {token} ")).subject == principal.subject
    assert idp.jwks_hits == 1


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwdw==", "Token x"]
)
async def test_missing_or_foreign_scheme_is_missing_token(
    authenticator: Authenticator, header: str | None
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await authenticator.authenticate(header)
    assert caught.value.code == "missing_token"


async def test_garbage_never_reaches_the_identity_provider(
    authenticator: Authenticator, idp: LocalIdp, mint: Mint
) -> None:
    for token in ["garbage", mint(algorithm="RS512"), mint(kid=None), "a." * 9000]:
        with pytest.raises(Unauthenticated):
            await authenticator.authenticate(f"Bearer {token}")
    assert sum(idp.hits.values()) == 0


async def test_token_of_another_issuer_is_refused(authenticator: Authenticator, mint: Mint) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await authenticator.authenticate(f"Bearer {mint()}")
    assert caught.value.code == "bad_issuer"


def test_symmetric_algorithm_in_settings_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        Authenticator(KeycloakSettings(algorithms=["RS256", "HS512"]))
