"""Reading one request's audit event back through the auditor API, as an auditor would."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Tokens


def find_audit_event(
    gateway_url: str,
    tokens: Tokens,
    *,
    request_id: str,
    event_type: str,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Page through the auditor API until the event of ``request_id`` shows up.

    End events are group-committed after the response, so the test polls for them.
    """
    auditor = tokens.with_role("auditor")
    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    params: dict[str, str] = {"event_type": event_type, "since": since, "limit": "1000"}
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(
            f"{gateway_url}/api/audit/events",
            params=params,
            headers=tokens.headers(auditor),
            timeout=30,
        )
        response.raise_for_status()
        page = response.json()
        for event in page["events"]:
            if event["request_id"] == request_id:
                return dict(event)
        if page["events"]:
            params["after_seq"] = str(page["events"][-1]["seq"])
        if page["next_after_seq"] is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} audit event for request {request_id}")
            time.sleep(0.3)
