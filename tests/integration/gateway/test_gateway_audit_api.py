"""The auditor API: filtered paging, streamed export, verification; each call audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from tests.support.audit import find_audit_event

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


def test_events_filter_and_page_by_seq(gateway: httpx.Client, tokens: Tokens) -> None:
    headers = tokens.headers("liu.yang")
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    params = {"event_type": "audit.read", "user": "liu.yang", "since": since, "limit": "2"}
    gateway.get("/api/audit/events", params={"limit": "1"}, headers=headers)
    first = gateway.get("/api/audit/events", params=params, headers=headers).json()
    assert len(first["events"]) == 2
    assert all(e["event_type"] == "audit.read" for e in first["events"])
    assert all(e["actor_username"] == "liu.yang" for e in first["events"])
    assert first["next_after_seq"] == first["events"][-1]["seq"]
    second = gateway.get(
        "/api/audit/events",
        params={**params, "after_seq": str(first["next_after_seq"])},
        headers=headers,
    ).json()
    assert all(e["seq"] > first["next_after_seq"] for e in second["events"])


def test_reading_the_log_is_itself_audited(
    gateway: httpx.Client, gateway_url: str, tokens: Tokens
) -> None:
    response = gateway.get(
        "/api/audit/events", params={"outcome": "denied"}, headers=tokens.headers("liu.yang")
    )
    assert response.status_code == 200
    event = find_audit_event(
        gateway_url, tokens, request_id=response.headers["x-request-id"], event_type="audit.read"
    )
    assert event["actor_username"] == "liu.yang"
    assert event["detail"] == {"outcome": "denied"}


def test_export_streams_jsonl_and_csv(gateway: httpx.Client, tokens: Tokens) -> None:
    headers = tokens.headers("liu.yang")
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    params = {"event_type": "audit.read", "since": since}
    jsonl = gateway.get("/api/audit/export", params={**params, "format": "jsonl"}, headers=headers)
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    # The rows lie between the GB 45438 labels: the explicit one first, the AIGC one last.
    label, *lines, metadata = jsonl.text.splitlines()
    assert json.loads(label) == {"explicit_label": "本内容由人工智能生成"}
    assert set(json.loads(metadata)) == {"AIGC"}
    rows = [json.loads(line) for line in lines]
    assert rows
    assert all(row["event_type"] == "audit.read" for row in rows)
    exported = gateway.get("/api/audit/export", params={**params, "format": "csv"}, headers=headers)
    assert "attachment" in exported.headers["content-disposition"]
    label, *lines, metadata = exported.text.splitlines()
    assert label == "# 本内容由人工智能生成"
    assert metadata.startswith("# AIGC {")
    table = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert table
    assert {"seq", "event_type", "row_hash"} <= set(table[0])
    refused = gateway.get("/api/audit/export", params={"format": "xml"}, headers=headers)
    assert refused.status_code == 422


def test_verify_reports_an_intact_chain(
    gateway: httpx.Client, gateway_url: str, tokens: Tokens
) -> None:
    response = gateway.post("/api/audit/verify", headers=tokens.headers("liu.yang"))
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True
    assert report["count"] > 0
    assert report["first_bad_seq"] is None
    event = find_audit_event(
        gateway_url,
        tokens,
        request_id=response.headers["x-request-id"],
        event_type="audit.verify",
    )
    assert event["detail"]["ok"] is True
