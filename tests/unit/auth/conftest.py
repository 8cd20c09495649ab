"""Local signing keys and a token factory for the auth unit tests."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from appliance.auth.verifier import VerificationKey
from tests.support.auth.mint import Mint, access_claims


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> dict[str, VerificationKey]:
    return {
        "rsa-1": VerificationKey(rsa_key.public_key(), "RS256"),
        "ec-1": VerificationKey(ec_key.public_key(), "ES256"),
    }


@pytest.fixture(scope="session")
def mint(rsa_key: rsa.RSAPrivateKey) -> Mint:
    """Sign claims with a local key (RSA by default); ``claims=None`` means defaults."""

    def _mint(
        claims: dict[str, Any] | None = None,
        *,
        key: Any = rsa_key,
        algorithm: str = "RS256",
        kid: str | None = "rsa-1",
        headers: dict[str, Any] | None = None,
    ) -> str:
        extra = dict(headers or {})
        if kid is not None:
            extra["kid"] = kid
        return jwt.encode(
            claims if claims is not None else access_claims(),
            key,
            algorithm=algorithm,
            headers=extra,
        )

    return _mint
