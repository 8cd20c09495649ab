"""Users and helpers of the knowledge-base API tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Tokens

EDITOR = "li.na"  # staff + kb-editor, /dept/finance
FINANCE_STAFF = "zhang.wei"
LEGAL_STAFF = "wang.fang"
NO_ROLE = "sun.li"


def md_file(name: str, text: str) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, text.encode("utf-8"), "text/markdown"))


def find_audit_event(
    gateway_url: str, tokens: Tokens, *, request_id: str, event_type: str, timeout_s: float = 30
) -> dict[str, Any]:
    """The audit event of ``request_id``, read through the auditor API (end events are
    group-committed after the response, so this polls)."""
    auditor = tokens.with_role("auditor")
    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    deadline = time.monotonic() + timeout_s
    while True:
        params = {"event_type": event_type, "since": since, "limit": "1000"}
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
            if page["next_after_seq"] is None:
                break
            params["after_seq"] = str(page["next_after_seq"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} audit event for request {request_id}")
        time.sleep(0.3)
