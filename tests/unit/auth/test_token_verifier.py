"""The pure verifier: one valid token accepted, a corpus of bad tokens each refused by code."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from appliance.auth.principal import Role
from appliance.auth.verifier import (
    MAX_TOKEN_BYTES,
    VerificationKey,
    pinned_algorithms,
)
from appliance.errors import Unauthenticated
from tests.support.auth.mint import (
    AUDIENCE,
    ISSUER,
    Mint,
    access_claims,
    b64,
    b64json,
    verify,
)


def test_valid_rsa_token_gives_the_principal(mint: Mint, keys: dict[str, VerificationKey]) -> None:
    principal = verify(mint(), keys)
    assert principal.subject == "5f1f2b8e-user"
    assert principal.username == "li.na"
    assert principal.has_role(Role.STAFF)
    assert principal.has_role(Role.KB_EDITOR)
    assert not principal.has_role(Role.AUDITOR)
    assert principal.groups == frozenset({"/dept/finance"})
    assert principal.departments == frozenset({"/dept/finance"})
    assert principal.client_id == "appliance-dev"
    assert principal.session_id == "a7c9-session"
    assert principal.email == "li.na@example.test"


def test_valid_ec_token_is_accepted(
    mint: Mint, ec_key: ec.EllipticCurvePrivateKey, keys: dict[str, VerificationKey]
) -> None:
    token = mint(key=ec_key, algorithm="ES256", kid="ec-1")
    assert verify(token, keys).username == "li.na"


def test_token_of_an_allowed_client_without_our_audience_is_accepted(
    mint: Mint, keys: dict[str, VerificationKey]
) -> None:
    token = mint(access_claims(aud="account", azp="appliance-webui"))
    assert verify(token, keys).client_id == "appliance-webui"


def test_token_with_our_audience_and_no_azp_is_accepted(
    mint: Mint, keys: dict[str, VerificationKey]
) -> None:
    assert verify(mint(access_claims(azp=None, aud=AUDIENCE)), keys).client_id == ""


def test_leeway_accepts_a_token_just_expired(mint: Mint, keys: dict[str, VerificationKey]) -> None:
    now = time.time()
    token = mint(access_claims(exp=int(now) - 10, iat=int(now) - 310))
    assert verify(token, keys, now=now).username == "li.na"


def test_a_symmetric_algorithm_cannot_be_pinned() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        pinned_algorithms(["RS256", "HS256"])
    with pytest.raises(ValueError, match="asymmetric"):
        pinned_algorithms(["none"])


def _hs256_with_public_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    """The classic key-confusion forgery: HMAC keyed with the server's public key."""
    secret = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'})}.{b64json(access_claims())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _alg_none() -> str:
    return f"{b64json({'alg': 'none', 'kid': 'rsa-1'})}.{b64json(access_claims())}."


def _tampered_payload(mint: Mint) -> str:
    header, _, signature = mint().split(".")
    forged = access_claims(realm_access={"roles": ["auditor", "secadmin"]})
    return f"{header}.{b64json(forged)}.{signature}"


def _rs256_claiming_es256(mint: Mint, kid: str) -> str:
    """Signed with RSA, header relabelled ES256."""
    _, payload, signature = mint().split(".")
    return f"{b64json({'alg': 'ES256', 'kid': kid})}.{payload}.{signature}"


def _rs256_claiming_ps256(mint: Mint) -> str:
    """Same RSA key, but the JWK pins RS256: a PS256 header must not be tried."""
    return mint(algorithm="PS256")


def _signed_by_stranger(mint: Mint) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return mint(key=stranger)


Case = Callable[[Mint, rsa.RSAPrivateKey], str]
NOW = int(time.time())

BAD_TOKENS: list[tuple[str, Case, str]] = [
    ("alg none", lambda m, k: _alg_none(), "bad_algorithm"),
    ("HS256 keyed with the public PEM", lambda m, k: _hs256_with_public_pem(k), "bad_algorithm"),
    (
        "RS256 whose header claims ES256 (RSA kid)",
        lambda m, k: _rs256_claiming_es256(m, "rsa-1"),
        "bad_algorithm",
    ),
    (
        "RS256 whose header claims ES256 (EC kid)",
        lambda m, k: _rs256_claiming_es256(m, "ec-1"),
        "bad_signature",
    ),
    ("PS256 against an RS256-only key", lambda m, k: _rs256_claiming_ps256(m), "bad_algorithm"),
    (
        "unpinned RS512",
        lambda m, k: m(algorithm="RS512"),
        "bad_algorithm",
    ),
    (
        "expired",
        lambda m, k: m(access_claims(exp=NOW - 120, iat=NOW - 420)),
        "token_expired",
    ),
    ("not yet valid", lambda m, k: m(access_claims(nbf=NOW + 600)), "token_not_yet_valid"),
    ("issued in the future", lambda m, k: m(access_claims(iat=NOW + 600)), "token_not_yet_valid"),
    (
        "wrong issuer",
        lambda m, k: m(access_claims(iss="http://evil/realms/appliance")),
        "bad_issuer",
    ),
    (
        "wrong audience, no azp",
        lambda m, k: m(access_claims(aud="account", azp=None)),
        "bad_audience",
    ),
    (
        "azp of a foreign client",
        lambda m, k: m(access_claims(azp="some-other-app")),
        "bad_audience",
    ),
    ("bad signature", lambda m, k: _signed_by_stranger(m), "bad_signature"),
    ("tampered payload", lambda m, k: _tampered_payload(m), "bad_signature"),
    ("unknown kid", lambda m, k: m(kid="rotated-away"), "unknown_key"),
    ("no kid", lambda m, k: m(kid=None), "missing_key_id"),
    ("garbage", lambda m, k: "not a token at all", "malformed_token"),
    ("garbage with dots", lambda m, k: "abc.def.ghi", "malformed_token"),
    ("truncated", lambda m, k: m()[:-40], "bad_signature"),
    ("cut to two segments", lambda m, k: ".".join(m().split(".")[:2]), "malformed_token"),
    ("extra segment", lambda m, k: m() + ".AAAA", "malformed_token"),
    ("JWE-shaped", lambda m, k: ".".join(["e30"] * 5), "malformed_token"),
    ("non-base64 chars", lambda m, k: m().replace(".", ".*", 1), "malformed_token"),
    ("ID token", lambda m, k: m(access_claims(typ="ID", aud="appliance-dev")), "wrong_token_type"),
    ("refresh token", lambda m, k: m(access_claims(typ="Refresh")), "wrong_token_type"),
    ("no typ", lambda m, k: m(access_claims(typ=None)), "wrong_token_type"),
    ("no exp", lambda m, k: m(access_claims(exp=None)), "malformed_token"),
    ("no sub", lambda m, k: m(access_claims(sub=None)), "malformed_token"),
    (
        "roles not a list",
        lambda m, k: m(access_claims(realm_access={"roles": "sysadmin"})),
        "malformed_token",
    ),
    (
        "payload not an object",
        lambda m, k: m().split(".")[0] + "." + b64json([1]) + ".x",
        "malformed_token",
    ),
    ("critical header", lambda m, k: m(headers={"crit": ["exp"]}), "malformed_token"),
    ("empty string", lambda m, k: "", "malformed_token"),
    ("huge", lambda m, k: m(access_claims(pad="x" * MAX_TOKEN_BYTES)), "token_too_large"),
]


@pytest.mark.parametrize(
    ("make", "code"),
    [pytest.param(make, code, id=name) for name, make, code in BAD_TOKENS],
)
def test_bad_token_is_rejected_with_its_code(
    make: Case,
    code: str,
    mint: Mint,
    rsa_key: rsa.RSAPrivateKey,
    keys: dict[str, VerificationKey],
) -> None:
    token = make(mint, rsa_key)
    with pytest.raises(Unauthenticated) as caught:
        verify(token, keys)
    assert caught.value.code == code
    assert caught.value.status_code == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_messages_do_not_echo_the_token(mint: Mint, keys: dict[str, VerificationKey]) -> None:
    token = mint(access_claims(iss="http://evil/realms/appliance"))
    with pytest.raises(Unauthenticated) as caught:
        verify(token, keys)
    assert "evil" not in caught.value.message
    assert token[:20] not in caught.value.message


def test_jwt_library_and_verifier_agree_on_a_valid_token(
    mint: Mint, rsa_key: rsa.RSAPrivateKey, keys: dict[str, VerificationKey]
) -> None:
    token = mint()
    reference = jwt.decode(
        token, rsa_key.public_key(), algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
    )
    assert verify(token, keys).subject == reference["sub"]


@pytest.mark.parametrize(
    ("claim", "clearance"),
    [("重要", "重要"), (" 核心 ", "核心"), (None, ""), (["核心"], ""), (3, ""), ("", "")],
)
def test_the_clearance_claim_reaches_the_principal_or_counts_as_none(
    mint: Mint, keys: dict[str, VerificationKey], claim: object, clearance: str
) -> None:
    principal = verify(mint(access_claims(clearance=claim)), keys)
    assert principal.clearance == clearance
