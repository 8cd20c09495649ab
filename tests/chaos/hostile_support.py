"""Plumbing shared by the hostile-input scenarios: one gateway of the current code.

The scenarios talk to their own gateway process (the working tree's code, not the shared
gateway on 8080 that runs whatever was started with ``make up``) in front of the fast stub
backend, with the shared PostgreSQL and Keycloak. It is started once per test process on
first use and stopped when the process exits, so the scenarios do not each pay for its
start-up (it loads the embedding model).
"""

from __future__ import annotations

import atexit
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from tests.integration.gateway.gateway_support import Gateway, Stub

# Per-user limits far above what one scenario sends, so only what a scenario tests refuses.
# Load shedding by event-loop lag is off: on a busy 2-core machine it would turn requests
# into 503s that say nothing about hostile input (the load scenarios test shedding).
_SETTINGS = {
    "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "64",
    "APPLIANCE_LIMITS__DAILY_TOKEN_QUOTA": "1000000000",
    "APPLIANCE_LIMITS__MAX_LOOP_LAG_MS": "0",
}


@functools.cache
def hostile_gateway(model: str) -> tuple[Gateway, Stub]:
    """The gateway (and its stub backend serving ``model``), started on first call."""
    stub = Stub(model)
    stub.control(zero_usage=True)
    try:
        gateway = Gateway({"APPLIANCE_BACKENDS": stub.url, **_SETTINGS})
    except BaseException:
        stub.stop()
        raise
    atexit.register(stub.stop)
    atexit.register(gateway.stop)
    return gateway, stub


def audited_request_ids(
    base_url: str,
    auditor_headers: Callable[[], dict[str, str]],
    wanted: Iterable[str],
    *,
    event_type: str,
    since: str,
    timeout_s: float = 30.0,
) -> dict[str, dict[str, Any]]:
    """The audit events of ``event_type`` since ``since`` (ISO 8601 with offset) whose
    request id is in ``wanted``, read through the auditor API; polls until all are there or
    the time is up (group commit lags)."""
    missing = set(wanted)
    found: dict[str, dict[str, Any]] = {}
    after: int | None = None
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while missing and time.monotonic() < deadline:
            params: dict[str, Any] = {"event_type": event_type, "since": since, "limit": 1000}
            if after is not None:
                params["after_seq"] = after
            page = client.get("/api/audit/events", params=params, headers=auditor_headers())
            page.raise_for_status()
            events = page.json()["events"]
            for event in events:
                if event["request_id"] in missing:
                    missing.discard(event["request_id"])
                    found[event["request_id"]] = event
            if events:
                after = int(events[-1]["seq"])
            if len(events) < 1000 and missing:
                time.sleep(0.5)
    return found
