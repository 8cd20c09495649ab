"""A configured key-set URL: keys come from there, with no discovery at the issuer."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from appliance.auth.jwks import JwksCache
from tests.support.auth.local_idp import LocalIdp
from tests.support.auth.mint import ALGORITHMS


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig"}


async def test_keys_come_from_the_configured_url_without_discovery(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    idp = LocalIdp()
    idp.jwks = [_jwk(rsa_key, "rsa-1")]
    # The public issuer is an address the gateway cannot reach; the key set is internal.
    cache = JwksCache(
        "https://sso.example.invalid/realms/test",
        algorithms=ALGORITHMS,
        jwks_url=idp.url + idp.jwks_path,
    )
    try:
        key = await cache.key_for("rsa-1")
        assert key.key.public_numbers() == rsa_key.public_key().public_numbers()
        assert idp.jwks_hits == 1
        assert idp.hits[idp.discovery_path] == 0
    finally:
        await cache.aclose()
        idp.stop()
