"""Verify a Keycloak access token: one small pure function, keys passed in.

No network and no global state here, so every rule can be tested with local keys. The
header is parsed and checked (size, shape, pinned algorithm, key id) before any
cryptography runs; the signature is checked before any claim is trusted; then the claims
that make the token an access token *for this gateway*: ``typ``, ``iss``, ``azp``/``aud``
and the time window. Every rejection is an :class:`~appliance.errors.Unauthenticated` with
a short code and a message that never echoes the token back.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    SECP384R1,
    SECP521R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import get_default_algorithms

from appliance.auth.principal import Principal
from appliance.errors import Unauthenticated

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey
PUBLIC_KEY_TYPES = (RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey)

# Larger tokens are refused before parsing: no Keycloak access token comes near this.
MAX_TOKEN_BYTES = 16 * 1024

# The only algorithms that may ever be pinned: asymmetric ones. `none` and HS* never are,
# because an HMAC "verified" with a public key is forgeable by anyone holding that key.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Built once: PyJWT constructs fresh algorithm objects on every call of this function.
_JWS_ALGORITHMS = get_default_algorithms()
_EC_CURVES = {"ES256": SECP256R1, "ES384": SECP384R1, "ES512": SECP521R1}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
# Keycloak marks access tokens with typ "Bearer" (ID tokens "ID", refresh tokens "Refresh").
KEYCLOAK_ACCESS_TYP = "Bearer"


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key from the JWKS and, when the JWKS names one, the only algorithm for it."""

    key: PublicKey
    algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class TokenHeader:
    algorithm: str
    key_id: str


def pinned_algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    """Validate a configured algorithm list; a symmetric or unknown entry is a config error."""
    pinned = frozenset(algorithms)
    unsafe = pinned - ASYMMETRIC_ALGORITHMS
    if unsafe or not pinned:
        raise ValueError(f"only asymmetric JWT algorithms may be pinned, got {sorted(pinned)}")
    return pinned


def _b64decode(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise Unauthenticated("The access token is malformed.", code="malformed_token")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unauthenticated("The access token is malformed.", code="malformed_token") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unauthenticated("The access token is malformed.", code="malformed_token") from exc
    if not isinstance(value, dict):
        raise Unauthenticated("The access token is malformed.", code="malformed_token")
    return value


def _segments(token: str) -> list[str]:
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthenticated("The access token is too large.", code="token_too_large")
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthenticated("The access token is malformed.", code="malformed_token")
    return parts


def read_header(token: str, algorithms: Iterable[str]) -> TokenHeader:
    """Check size, shape, algorithm and key id, so a key is looked up only for a sane token."""
    header = _json_object(_b64decode(_segments(token)[0]))
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in pinned_algorithms(algorithms):
        raise Unauthenticated(
            "The access token uses an algorithm that is not accepted.", code="bad_algorithm"
        )
    if "crit" in header:
        raise Unauthenticated(
            "The access token has critical header extensions.", code="malformed_token"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated("The access token names no signing key.", code="missing_key_id")
    return TokenHeader(algorithm=alg, key_id=kid)


def _key_fits(alg: str, key: VerificationKey) -> bool:
    """The header's algorithm must suit the key's type (and curve), and the JWK's own alg."""
    if key.algorithm is not None and key.algorithm != alg:
        return False
    public = key.key
    if alg.startswith(("RS", "PS")):
        return isinstance(public, RSAPublicKey)
    if alg in _EC_CURVES:
        return isinstance(public, EllipticCurvePublicKey) and isinstance(
            public.curve, _EC_CURVES[alg]
        )
    return isinstance(public, Ed25519PublicKey)


def _verify_signature(token: str, header: TokenHeader, key: VerificationKey) -> dict[str, Any]:
    if not _key_fits(header.algorithm, key):
        raise Unauthenticated(
            "The access token's algorithm does not match its signing key.", code="bad_algorithm"
        )
    header_b64, payload_b64, signature_b64 = token.split(".")
    payload = _b64decode(payload_b64)
    signature = _b64decode(signature_b64)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    algorithm = _JWS_ALGORITHMS[header.algorithm]
    if not algorithm.verify(signing_input, key.key, signature):
        raise Unauthenticated("The access token's signature is invalid.", code="bad_signature")
    return _json_object(payload)


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthenticated(
            f"The access token's '{name}' claim is missing or invalid.", code="malformed_token"
        )
    return float(value)


def _strings(value: object, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthenticated(
            f"The access token's '{name}' claim is invalid.", code="malformed_token"
        )
    return frozenset(value)


def _check_time(claims: Mapping[str, Any], leeway_s: float, now: float) -> None:
    exp = _number(claims, "exp", required=True)
    iat = _number(claims, "iat", required=True)
    nbf = _number(claims, "nbf", required=False)
    if exp is not None and exp <= now - leeway_s:
        raise Unauthenticated("The access token has expired.", code="token_expired")
    if (nbf is not None and nbf > now + leeway_s) or (iat is not None and iat > now + leeway_s):
        raise Unauthenticated("The access token is not valid yet.", code="token_not_yet_valid")


def _client_allowed(azp: object, allowed: frozenset[str], service_prefix: str) -> bool:
    """A listed client, or an integration client named with the service prefix."""
    if not isinstance(azp, str):
        return False
    return azp in allowed or bool(
        service_prefix and azp.startswith(service_prefix) and len(azp) > len(service_prefix)
    )


def _check_audience(
    claims: Mapping[str, Any],
    audience: str,
    allowed_clients: Iterable[str],
    service_prefix: str = "",
) -> None:
    """`azp`, when present, must be an allowed client; then `aud` or `azp` must name us.

    An integration client (``service_prefix``) is allowed by `azp` but must still name the
    gateway in `aud`: its tokens carry the audience mapper ``appliance clients add`` gives it.
    """
    allowed = frozenset(allowed_clients)
    azp = claims.get("azp")
    if azp is not None and not _client_allowed(azp, allowed, service_prefix):
        raise Unauthenticated(
            "The access token was issued to a client that may not call this service.",
            code="bad_audience",
        )
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences and azp not in allowed:
        raise Unauthenticated(
            "The access token is not meant for this service.", code="bad_audience"
        )


def _principal(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("The access token names no subject.", code="malformed_token")
    realm_access = claims.get("realm_access") or {}
    if not isinstance(realm_access, dict):
        raise Unauthenticated(
            "The access token's 'realm_access' claim is invalid.", code="malformed_token"
        )
    username = claims.get("preferred_username")
    # A clearance that is not one string (absent, or a multivalued attribute) counts as
    # none: the lowest grade, never a guess at a higher one.
    clearance = claims.get("clearance")
    return Principal(
        subject=subject,
        username=username if isinstance(username, str) else subject,
        roles=_strings(realm_access.get("roles"), "realm_access.roles"),
        groups=_strings(claims.get("groups"), "groups"),
        client_id=str(claims.get("azp") or ""),
        session_id=str(claims.get("sid") or ""),
        token_id=str(claims.get("jti") or ""),
        expires_at=int(claims["exp"]),
        email=str(claims.get("email") or ""),
        clearance=clearance.strip() if isinstance(clearance, str) else "",
    )


def verify_access_token(
    token: str,
    *,
    keys: Mapping[str, VerificationKey],
    issuer: str,
    audience: str,
    allowed_clients: Iterable[str],
    algorithms: Iterable[str],
    leeway_s: float,
    now: float | None = None,
    service_client_prefix: str = "",
) -> Principal:
    """Return the caller behind a valid access token, or raise ``Unauthenticated``."""
    header = read_header(token, algorithms)
    key = keys.get(header.key_id)
    if key is None:
        raise Unauthenticated("The access token's signing key is unknown.", code="unknown_key")
    claims = _verify_signature(token, header, key)
    if claims.get("typ") != KEYCLOAK_ACCESS_TYP:
        raise Unauthenticated("The token is not an access token.", code="wrong_token_type")
    if claims.get("iss") != issuer:
        raise Unauthenticated("The access token comes from another issuer.", code="bad_issuer")
    _check_time(claims, leeway_s, time.time() if now is None else now)
    _check_audience(claims, audience, allowed_clients, service_client_prefix)
    return _principal(claims)
