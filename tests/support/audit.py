"""Reading audit events back through the auditor API, as an auditor would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


def find_audit_event(
    gateway_url: str,
    tokens: Tokens,
    *,
    request_id: str,
    event_type: str,
    timeout_s: float = 30.0,
    outcome: str | None = None,
) -> dict[str, Any]:
    """Page through the auditor API until the event of ``request_id`` shows up (with that
    ``outcome`` when given: a change's committed intent is ``pending``, its result follows).

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
            if event["request_id"] == request_id and outcome in (None, event["outcome"]):
                return dict(event)
        if page["events"]:
            params["after_seq"] = str(page["events"][-1]["seq"])
        if page["next_after_seq"] is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} audit event for request {request_id}")
            time.sleep(0.3)


def request_events(
    gateway_url: str,
    tokens: Tokens,
    request_id: str,
    *,
    query: Mapping[str, str],
    until: Callable[[list[dict[str, Any]]], bool],
    timeout_s: float = 30.0,
) -> list[dict[str, Any]]:
    """Every event of ``request_id`` among those ``query`` selects (``user``,
    ``event_type``), read as an auditor, again until ``until(found)`` holds or the time runs
    out: a change's outcome is written after the answer, so the test polls for it."""
    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    auditor = tokens.with_role("auditor")
    deadline = time.monotonic() + timeout_s
    while True:
        params = {**query, "since": since, "limit": "1000"}
        found: list[dict[str, Any]] = []
        while True:
            page = httpx.get(
                f"{gateway_url}/api/audit/events",
                params=params,
                headers=tokens.headers(auditor),
                timeout=30,
            ).json()
            found += [e for e in page["events"] if e["request_id"] == request_id]
            if page["next_after_seq"] is None:
                break
            params["after_seq"] = str(page["next_after_seq"])
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


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
