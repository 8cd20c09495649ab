"""The session to the replicas: every call carries the replicas' key, and an https:// replica
is verified against the site CA (a certificate made by the vllm role's openssl commands).

The replica here is a small HTTPS server that guards ``/v1`` the way vLLM's ``--api-key``
does (401 without the key; ``/health`` and ``/metrics`` open)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from appliance.gateway.replicas.client import replica_session
from appliance.gateway.replicas.pool import ReplicaPool
from appliance.settings import Settings

KEY = "k" * 32
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _site_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it: (ca.crt, server.crt, server.key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    (directory / "ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for args in (
        ["req", "-x509", *ec, "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key",
         "-out", "ca.crt"],
        ["req", *ec, "-subj", "/CN=replica", "-keyout", "server.key", "-out", "server.csr"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "ext"],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


@web.middleware
async def _require_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/v1") and request.headers.get("Authorization") != f"Bearer {KEY}":
        return web.json_response({"error": "Unauthorized"}, status=401)
    return await handler(request)


async def _models(_: web.Request) -> web.Response:
    return web.json_response({"data": [{"id": "m"}]})


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="")


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _site_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def replica(site_ca: tuple[Path, Path, Path]) -> AsyncIterator[str]:
    """An HTTPS replica on a free loopback port; its base URL."""
    _, cert, key = site_ca
    app = web.Application(middlewares=[_require_key])
    app.router.add_get("/health", _ok)
    app.router.add_get("/metrics", _ok)
    app.router.add_get("/v1/models", _models)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}"
    await runner.cleanup()


async def _checked(replica: str, **settings: str) -> ReplicaPool:
    """A pool of the one replica after two health checks with these settings."""
    session = replica_session(Settings(backends=[replica], **settings))  # type: ignore[arg-type]
    pool = ReplicaPool([replica], session, interval_s=1, inflight_cap=1)
    await pool.check_all()
    await pool.check_all()
    await session.close()
    return pool


async def test_the_key_and_the_site_ca_reach_the_replica(
    replica: str, site_ca: tuple[Path, Path, Path]
) -> None:
    pool = await _checked(replica, backend_api_key=KEY, backend_ca_file=str(site_ca[0]))
    assert pool.any_healthy, pool.replicas[0].last_error
    assert pool.models() == [{"id": "m", "thinking": "always"}]


async def test_without_the_key_the_replica_is_down(
    replica: str, site_ca: tuple[Path, Path, Path]
) -> None:
    pool = await _checked(replica, backend_ca_file=str(site_ca[0]))
    assert not pool.any_healthy
    assert "401" in str(pool.replicas[0].last_error)


async def test_a_replica_not_from_a_trusted_ca_is_refused(replica: str) -> None:
    pool = await _checked(replica, backend_api_key=KEY)
    assert not pool.any_healthy
    assert "certificate verify failed" in str(pool.replicas[0].last_error).lower()
