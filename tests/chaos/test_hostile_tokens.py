"""Hostile input, 2: a corpus of malformed and forged bearer tokens, sent to several routes.

Every one must be refused with 401 and OpenAI's error object (type
``authentication_error``, a ``WWW-Authenticate`` challenge, no stack trace, the token never
echoed back), and every refusal must leave an ``auth.failure`` audit event with the
request's id. 503 would be right only where an unknown key id needs a JWKS fetch and
Keycloak cannot be reached; Keycloak is up here, so 503 counts as a failure.

The corpus mixes forgeries (our own RSA key, HMAC with Keycloak's public key as the secret,
``alg: none``, embedded ``jwk``/``jku``/``x5u`` keys, ``crit``), real Keycloak tokens used
wrongly (an ID token, a refresh token, a real token with edited claims, a signature moved
from another user's token, truncations) and plain garbage. Forgeries with well-formed
claims for this realm are refused at the signature, whatever their claims say; the audit
reason code of each refusal is recorded per category. A real token is sent along as a
control and must be accepted, so "everything answers 401" cannot pass by accident.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.audit import audited_request_ids
from tests.support.hostile import hostile_gateway
from tests.support.record import record

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/me", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("GET", "/api/kb", None),
    ("GET", "/api/audit/events", None),
    ("GET", "/api/admin/backends", None),
]


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def seg(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")))


class Forger:
    """Builds tokens from a real one: same claims, our own key, or Keycloak's public key."""

    def __init__(self, real: str, jwks: dict[str, Any]) -> None:
        self.real = real
        header_b64, payload_b64, self.real_sig = real.split(".")
        self.header = json.loads(unb64(header_b64))
        self.claims = json.loads(unb64(payload_b64))
        self.kid = str(self.header["kid"])
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = next(k for k in jwks["keys"] if k["kid"] == self.kid)
        cert = base64.b64decode(jwk["x5c"][0])
        self.public_pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cert)
        self.public_pem += b"-----END CERTIFICATE-----\n"
        numbers = self.key.public_key().public_numbers()
        self.own_jwk = {
            "kty": "RSA",
            "kid": "attacker",
            "n": b64(numbers.n.to_bytes(256, "big")),
            "e": b64(numbers.e.to_bytes(3, "big")),
        }

    def claims_with(self, **changes: Any) -> dict[str, Any]:
        return {**self.claims, **changes}

    def rs256(self, claims: Any, **header: Any) -> str:
        head = seg({"alg": "RS256", "typ": "JWT", "kid": self.kid, **header})
        body = claims if isinstance(claims, str) else seg(claims)
        signature = self.key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64(signature)}"

    def hs256(self, secret: bytes, **header: Any) -> str:
        head = seg({"alg": "HS256", "typ": "JWT", "kid": self.kid, **header})
        body = seg(self.claims)
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(mac)}"

    def unsigned(self, alg: str) -> str:
        return f"{seg({'alg': alg, 'typ': 'JWT', 'kid': self.kid})}.{seg(self.claims)}."


def corpus(forger: Forger, others: dict[str, str]) -> list[tuple[str, str]]:
    """(category, Authorization header value) pairs."""
    f, now = forger, int(time.time())
    real_head, real_body, real_sig = f.real.split(".")
    items: list[tuple[str, str]] = []

    def add(category: str, *tokens: str, scheme: str = "Bearer ") -> None:
        items.extend((category, scheme + token) for token in tokens)

    add("alg_none", *(f.unsigned(alg) for alg in ("none", "None", "NONE", "nOnE")))
    add("alg_none_with_real_signature", f"{f.unsigned('none')}{real_sig}")
    pem_der = base64.b64decode(b"".join(f.public_pem.splitlines()[1:-1]))
    add("hs256_public_key_secret", f.hs256(f.public_pem), f.hs256(pem_der))
    add("hs256_public_key_secret", f.hs256(f.public_pem.strip()))
    add("wrong_issuer", f.rs256(f.claims_with(iss="http://127.0.0.1:8180/realms/master")))
    add("wrong_issuer", f.rs256(f.claims_with(iss="https://evil.example/realms/appliance")))
    add("wrong_audience", f.rs256(f.claims_with(aud="other-service", azp="other-client")))
    add("expired", f.rs256(f.claims_with(exp=now - 3600, iat=now - 7200)))
    add("not_yet_valid", f.rs256(f.claims_with(nbf=now + 3600, iat=now + 3600)))
    add("unknown_kid", *(f.rs256(f.claims, kid=kid) for kid in ("attacker", "", uuid.uuid4().hex)))
    traversal = ("../../../../etc/passwd", "/dev/null", "..\\..\\secret", "a\x00b", "' OR 1=1 --")
    add("kid_path_traversal", *(f.rs256(f.claims, kid=kid) for kid in traversal))
    add("kid_not_a_string", f.rs256(f.claims, kid=7), f.rs256(f.claims, kid=["x"]))
    add("stripped_signature", f"{real_head}.{real_body}.", f"{real_head}.{real_body}")
    flipped = real_sig[:-2] + ("AA" if real_sig[-2:] != "AA" else "BB")
    add("altered_signature", f"{real_head}.{real_body}.{flipped}")
    add("signature_of_another_token", f"{real_head}.{real_body}.{others['li.na'].split('.')[2]}")
    escalated = f.claims_with(realm_access={"roles": ["staff", "sysadmin", "auditor"]})
    add("altered_claims_real_signature", f"{real_head}.{seg(escalated)}.{real_sig}")
    groups = f.claims_with(groups=["/dept/legal"])
    add("altered_claims_real_signature", f"{real_head}.{seg(groups)}.{real_sig}")
    add("truncated", *(f.real[:n] for n in (10, len(f.real) // 2, len(f.real) - 1)))
    big = {"alg": "RS256", "kid": f.kid, "pad": "x" * 12000}
    add("huge_header", f"{seg(big)}.{real_body}.{real_sig}", "a" * 70000)
    add("non_base64", "!!!.@@@.###", "e30.e30.e30=", "a b.c d.e f", "令牌.令牌.令牌")
    garbage = ("not json", "[]", "null", '{"alg":', '"RS256"', "{}")
    add("json_garbage", *(f"{b64(g)}.{real_body}.{real_sig}" for g in garbage))
    add("json_garbage", f"{real_head}.{b64('not json')}.{real_sig}")
    jwe = seg({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": f.kid})
    add("nested_jwe_like", f"{jwe}.{b64(b'k' * 32)}.{b64(b'iv')}.{b64(b'ct')}.{b64(b'tag')}")
    add("nested_jwe_like", f.rs256(b64(f.real.encode()), cty="JWT"))
    add("refresh_token", others["refresh"])
    add("id_token", others["id"])
    other_realm = f.claims_with(iss="http://127.0.0.1:8180/realms/other")
    add("other_realm_own_key", f.rs256(other_realm, kid="attacker"), f.rs256(other_realm))
    add("embedded_jwk", f.rs256(f.claims, kid="attacker", jwk=f.own_jwk))
    add("embedded_jwk", f.rs256(f.claims, jwk={**f.own_jwk, "kid": f.kid}))
    add("jku_header", f.rs256(f.claims, jku="http://127.0.0.1:9/jwks.json", kid="attacker"))
    add("x5u_header", f.rs256(f.claims, x5u="http://127.0.0.1:9/cert.pem"))
    add("crit_header", f.rs256(f.claims, crit=["exp"]), f"{seg({**f.header, 'crit': ['b64']})}"
        f".{real_body}.{real_sig}")  # fmt: skip
    dup_header = b64(f'{{"alg":"RS256","kid":"{f.kid}","alg":"none"}}')
    add("duplicated_claims", f"{dup_header}.{real_body}.")
    dup_claims = json.dumps(f.claims)[:-1] + ', "sub": "someone-else"}'
    add("duplicated_claims", f.rs256(b64(dup_claims)), f"{real_head}.{b64(dup_claims)}.{real_sig}")
    add("wrong_scheme", f.real, scheme="Basic ")
    add("wrong_scheme", f.real, scheme="Token ")
    add("wrong_scheme", "", scheme="Bearer")
    add("two_tokens", f"{f.real} {f.real}", f"{f.real},{f.real}")
    return items


def _keycloak_tokens(tokens: Any) -> dict[str, str]:
    """An ID token and a refresh token of zhang.wei, straight from the token endpoint."""
    response = httpx.post(
        tokens.token_url,
        data={
            "grant_type": "password",
            "client_id": tokens.client_id,
            "username": "zhang.wei",
            "password": tokens.password("zhang.wei"),
            "scope": "openid",
        },
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    return {"id": body["id_token"], "refresh": body["refresh_token"]}


def _send(
    client: httpx.Client, method: str, path: str, body: Any, authorization: str, request_id: str
) -> httpx.Response:
    headers: dict[str, str | bytes] = {"X-Request-ID": request_id}
    if authorization:
        # As bytes: some tokens of the corpus are not ASCII.
        headers["Authorization"] = authorization.encode()
    return client.request(method, path, json=body, headers=headers)


def _refusal_problems(response: httpx.Response, authorization: str) -> list[str]:
    problems: list[str] = []
    if response.status_code != 401:
        problems.append(f"status {response.status_code}")
    try:
        error = response.json()["error"]
        if error["type"] != "authentication_error" or not error["message"]:
            problems.append(f"error {error}")
    except (ValueError, KeyError, TypeError):
        problems.append(f"body {response.text[:200]!r}")
    if "bearer" not in response.headers.get("www-authenticate", "").lower():
        problems.append("no WWW-Authenticate challenge")
    token = authorization.partition(" ")[2]
    if "Traceback" in response.text or (len(token) > 20 and token[:40] in response.text):
        problems.append("stack trace or token echoed")
    return problems


def test_forged_and_malformed_tokens_are_refused_and_audited(
    services: dict[str, Any], tokens: Any
) -> None:
    gateway, _ = hostile_gateway(str(services["model"]))
    issuer = services["keycloak"]["issuer"]
    jwks = httpx.get(f"{issuer}/protocol/openid-connect/certs", timeout=10).json()
    forger = Forger(tokens("zhang.wei"), jwks)
    items = corpus(forger, {"li.na": tokens("li.na"), **_keycloak_tokens(tokens)})
    since = dt.datetime.now(dt.UTC).isoformat()
    started = time.monotonic()
    per_category: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    problems: list[str] = []
    sent: dict[str, str] = {}
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        control = client.get("/api/me", headers=tokens.headers("zhang.wei"))
        assert control.status_code == 200, control.text
        for n, (category, authorization) in enumerate(items):
            for method, path, body in ROUTES:
                request_id = f"hostile-token-{run}-{n}-{len(sent)}"
                response = _send(client, method, path, body, authorization, request_id)
                per_category[category] += 1
                statuses[response.status_code] += 1
                sent[request_id] = category
                problems += [
                    f"{category} #{n} {method} {path}: {p}"
                    for p in _refusal_problems(response, authorization)
                ]
    elapsed = time.monotonic() - started
    auditor: Callable[[], dict[str, str]] = lambda: tokens.headers("liu.yang")  # noqa: E731
    audited = audited_request_ids(
        gateway.url, auditor, sent, event_type="auth.failure", since=since
    )
    reasons: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for request_id, event in audited.items():
        reasons[sent[request_id]][str((event.get("detail") or {}).get("reason"))] += 1
    record(
        "hostile_tokens",
        {
            "tokens": len(items),
            "categories": len(per_category),
            "routes": [f"{m} {p}" for m, p, _ in ROUTES],
            "requests": len(sent),
            "statuses": {str(k): v for k, v in statuses.items()},
            "rejected_401": statuses[401],
            "accepted": sum(v for k, v in statuses.items() if k < 400),
            "problems": problems[:50],
            "audited_auth_failures": len(audited),
            "unaudited": len(sent) - len(audited),
            "requests_per_category": dict(per_category),
            "audit_reasons_per_category": {k: dict(v) for k, v in sorted(reasons.items())},
            "duration_s": round(elapsed, 1),
        },
    )
    assert len(items) >= 50
    assert not problems, "\n".join(problems[:30])
    assert statuses[401] == len(sent)
    assert len(audited) == len(sent), f"{len(sent) - len(audited)} refusals not audited"
