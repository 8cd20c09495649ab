"""The one pooled HTTP session to the replicas, made once per process in the lifespan."""

from __future__ import annotations

import ssl

import aiohttp

from appliance.settings import Settings


def replica_session(settings: Settings) -> aiohttp.ClientSession:
    """One pooled session for every replica call; limits come from our own in-flight caps.

    aiohttp rather than httpx on this path: its C HTTP parser and constant-time connection
    pool cost a fraction of httpx's per request, and every chat goes through here. The
    replicas' key rides on the session's default headers, so chats, model listings and
    health checks all carry it, and no caller can forget it. A replica on another node
    speaks HTTPS with a certificate from the site's CA, which is the only one trusted here
    when it is configured.
    """
    limits = settings.limits
    key = settings.backend_api_key.get_secret_value()
    context = ssl.create_default_context(cafile=settings.backend_ca_file or None)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0, ssl=context),
        timeout=aiohttp.ClientTimeout(
            total=None,
            sock_connect=limits.upstream_connect_timeout_s,
            sock_read=limits.upstream_read_timeout_s,
        ),
        headers={"Authorization": f"Bearer {key}"} if key else None,
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )
