"""The JWKS cache against a real local HTTP server: refetch rate limit and Keycloak outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from appliance.auth.jwks import JwksCache, parse_jwks
from appliance.errors import ServiceUnavailable, Unauthenticated
from tests.support.auth.local_idp import LocalIdp
from tests.support.auth.mint import ALGORITHMS

INTERVAL = 30.0


class FakeClock:
    """Monotonic time the test moves by hand, so rate limits are exact, not timing-based."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {
        **RSAAlgorithm.to_jwk(key.public_key(), as_dict=True),
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
    }


@pytest.fixture
def idp(rsa_key: rsa.RSAPrivateKey) -> Iterator[LocalIdp]:
    server = LocalIdp()
    server.jwks = [rsa_jwk(rsa_key, "rsa-1")]
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cache(idp: LocalIdp, clock: FakeClock) -> AsyncIterator[JwksCache]:
    jwks = JwksCache(
        idp.issuer, algorithms=ALGORITHMS, min_refresh_interval_s=INTERVAL, clock=clock
    )
    yield jwks
    await jwks.aclose()


async def unknown(cache: JwksCache, kid: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await cache.key_for(kid)
    return caught.value.code


async def test_known_kid_is_fetched_once_then_served_from_memory(
    cache: JwksCache, idp: LocalIdp, rsa_key: rsa.RSAPrivateKey
) -> None:
    for _ in range(5):
        key = await cache.key_for("rsa-1")
        assert key.key.public_numbers() == rsa_key.public_key().public_numbers()
        assert key.algorithm == "RS256"
    assert cache.fetch_count == 1
    assert idp.jwks_hits == 1


async def test_flood_of_unknown_kids_costs_one_fetch_per_interval(
    cache: JwksCache, idp: LocalIdp, clock: FakeClock
) -> None:
    await cache.key_for("rsa-1")
    clock.now += INTERVAL
    codes = await asyncio.gather(*(unknown(cache, f"forged-{i}") for i in range(200)))
    assert set(codes) == {"unknown_key"}
    assert idp.jwks_hits == 2

    codes = await asyncio.gather(*(unknown(cache, f"again-{i}") for i in range(200)))
    assert set(codes) == {"unknown_key"}
    assert idp.jwks_hits == 2

    clock.now += INTERVAL
    assert await unknown(cache, "later") == "unknown_key"
    assert idp.jwks_hits == 3
    assert cache.fetch_count == 3


async def test_concurrent_first_misses_share_one_fetch(cache: JwksCache, idp: LocalIdp) -> None:
    keys = await asyncio.gather(*(cache.key_for("rsa-1") for _ in range(50)))
    assert len({id(k) for k in keys}) == 1
    assert idp.jwks_hits == 1


async def test_rotated_key_is_picked_up_after_the_interval(
    cache: JwksCache, idp: LocalIdp, clock: FakeClock, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    await cache.key_for("rsa-1")
    idp.jwks = [{**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-2"}]
    assert await unknown(cache, "ec-2") == "unknown_key"
    clock.now += INTERVAL
    assert (await cache.key_for("ec-2")).algorithm is None
    # The old key was removed from the realm, so it no longer verifies anything.
    assert await unknown(cache, "rsa-1") == "unknown_key"


async def test_identity_provider_down_unknown_kid_503_cached_kid_still_works(
    cache: JwksCache, idp: LocalIdp, clock: FakeClock
) -> None:
    await cache.key_for("rsa-1")
    idp.stop()
    clock.now += INTERVAL
    with pytest.raises(ServiceUnavailable) as caught:
        await cache.key_for("new-kid")
    assert caught.value.status_code == 503
    assert caught.value.code == "identity_provider_unavailable"
    assert (await cache.key_for("rsa-1")).algorithm == "RS256"
    # Still within the interval: no new attempt, and still 503 rather than a false 401.
    with pytest.raises(ServiceUnavailable):
        await cache.key_for("another-kid")
    assert cache.fetch_count == 2


async def test_discovery_naming_another_issuer_is_refused(cache: JwksCache, idp: LocalIdp) -> None:
    idp.discovery_issuer = "http://evil.example/realms/test"
    with pytest.raises(ServiceUnavailable):
        await cache.key_for("rsa-1")
    assert idp.jwks_hits == 0


def test_only_pinned_signing_keys_are_kept(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    document = {
        "keys": [
            rsa_jwk(rsa_key, "sig-rs256"),
            {**rsa_jwk(rsa_key, "enc-oaep"), "use": "enc", "alg": "RSA-OAEP"},
            {**rsa_jwk(rsa_key, "sig-rs512"), "alg": "RS512"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec", "alg": "ES256"},
            {"kty": "RSA", "kid": "broken", "n": "AA", "e": "AQAB", "alg": "RS256"},
            {"kty": "oct", "kid": "hmac-no-alg", "k": "c2VjcmV0"},
            {**RSAAlgorithm.to_jwk(rsa_key, as_dict=True), "kid": "private"},
        ]
    }
    assert set(parse_jwks(document, ALGORITHMS)) == {"sig-rs256", "ec"}
    with pytest.raises(ValueError, match="keys"):
        parse_jwks({"no": "keys"}, ALGORITHMS)
