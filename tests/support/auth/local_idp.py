"""A tiny OIDC discovery + JWKS server on 127.0.0.1 that counts its hits.

Real HTTP over a real socket, so the cache's client code runs unmodified; only the keys are
local. ``stop()`` closes the socket, which is what an unreachable Keycloak looks like.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REALM = "test"


class LocalIdp:
    def __init__(self) -> None:
        self.jwks: list[dict[str, Any]] = []
        self.hits: Counter[str] = Counter()
        self.discovery_issuer: str | None = None
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.hits[self.path] += 1
                if self.path == idp.discovery_path:
                    body: Any = {
                        "issuer": idp.discovery_issuer or idp.issuer,
                        "jwks_uri": idp.url + idp.jwks_path,
                    }
                elif self.path == idp.jwks_path:
                    body = {"keys": idp.jwks}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = f"{self.url}/realms/{REALM}"
        self.discovery_path = f"/realms/{REALM}/.well-known/openid-configuration"
        self.jwks_path = f"/realms/{REALM}/protocol/openid-connect/certs"

    @property
    def jwks_hits(self) -> int:
        return self.hits[self.jwks_path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
