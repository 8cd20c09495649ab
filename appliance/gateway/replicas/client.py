"""The one pooled HTTP session to the replicas, made once per process in the lifespan."""

from __future__ import annotations

import aiohttp

from appliance.settings import LimitSettings


def replica_session(limits: LimitSettings) -> aiohttp.ClientSession:
    """One pooled session for every replica call; limits come from our own in-flight caps.

    aiohttp rather than httpx on this path: its C HTTP parser and constant-time connection
    pool cost a fraction of httpx's per request, and every chat goes through here.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0),
        timeout=aiohttp.ClientTimeout(
            total=None,
            sock_connect=limits.upstream_connect_timeout_s,
            sock_read=limits.upstream_read_timeout_s,
        ),
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )
