"""GB 45438 labels on the files a running gateway produces: the auditor's CSV and JSON Lines
exports and a user's conversation as Markdown, DOCX, PDF and JSON, each read back by the
installed ``appliance label verify`` command.

A gateway of the working tree (its own process) on the shared PostgreSQL and Keycloak, with
tokens of the demo realm's users; the label must name the site's configured identity, a
file id per export (the one the ``audit.export`` record names), and verify.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.audit import find_audit_event
from tests.support.gateways import Gateway
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

SITE = "标识测试站点 label-test site"
AUDITOR, OWNER, OTHER = "liu.yang", "zhang.wei", "wang.fang"
APPLIANCE = Path(sys.executable).parent / "appliance"


@pytest.fixture(scope="module")
def gateway(settings_env: dict[str, str], stub: Stub) -> Iterator[Gateway]:
    started = Gateway(
        {**settings_env, "APPLIANCE_BACKENDS": stub.url, "APPLIANCE_LABELS__CONTENT_PRODUCER": SITE}
    )
    yield started
    started.stop()


def _verified(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(APPLIANCE), "label", "verify", "--json", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if report["ok"] else 1), result.stderr
    return report


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_auditors_export_carries_a_label_that_verifies(
    fmt: str, gateway: Gateway, tokens: Tokens, tmp_path: Path
) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = httpx.get(
        f"{gateway.url}/api/audit/export",
        params={"format": fmt, "since": since, "event_type": "audit.export"},
        headers=tokens.headers(AUDITOR),
        timeout=120,
    )
    assert response.status_code == 200, response.text
    path = tmp_path / f"audit.{fmt}"
    path.write_bytes(response.content)

    report = _verified(path)
    assert report["problems"] == []
    assert report["ok"] is True and report["format"] == fmt
    assert report["fields"]["Label"] == "1"
    assert report["fields"]["ContentProducer"] == report["fields"]["ContentPropagator"] == SITE
    recorded = find_audit_event(
        gateway.url, tokens, request_id=response.headers["x-request-id"], event_type="audit.export"
    )
    assert report["fields"]["ProduceID"] == recorded["detail"]["produce_id"]

    # One event more or less in the file and the label no longer matches it.
    lines = response.content.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1] + lines[2:]))
    edited = _verified(path)
    assert edited["ok"] is False
    assert any(p.startswith("ReservedCode1 does not match") for p in edited["problems"])


@pytest.fixture
def conversation(gateway: Gateway, tokens: Tokens) -> Iterator[str]:
    url = f"{gateway.url}/api/conversations"
    headers = tokens.headers(OWNER)
    made = httpx.post(url, json={"title": "差旅住宿"}, headers=headers, timeout=60)
    assert made.status_code == 201, made.text
    conversation_id = str(made.json()["id"])
    for body in (
        {"role": "user", "content": "住宿上限是多少？"},
        {
            "role": "assistant",
            "content": "一线城市每晚 650 元。",
            "reasoning": "查差旅制度。",
            "citations": [{"index": 1, "document_name": "travel.md", "page": 3, "text": "650"}],
        },
    ):
        added = httpx.post(f"{url}/{conversation_id}/messages", json=body, headers=headers)
        assert added.status_code == 201, added.text
    yield conversation_id
    httpx.delete(f"{url}/{conversation_id}", headers=headers, timeout=60)


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("markdown", "text/markdown"),
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("pdf", "application/pdf"),
        ("json", "application/json"),
    ],
)
def test_each_conversation_export_carries_a_label_that_verifies(
    fmt: str, media_type: str, conversation: str, gateway: Gateway, tokens: Tokens, tmp_path: Path
) -> None:
    url = f"{gateway.url}/api/conversations/{conversation}/export"
    response = httpx.get(url, params={"format": fmt}, headers=tokens.headers(OWNER), timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    name = response.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name.startswith(f"conversation-{conversation[:8]}.")
    path = tmp_path / name
    path.write_bytes(response.content)

    report = _verified(path)
    assert report["problems"] == []
    assert report["fields"]["ContentProducer"] == SITE
    again = httpx.get(url, params={"format": fmt}, headers=tokens.headers(OWNER), timeout=60)
    path.write_bytes(again.content)
    assert _verified(path)["fields"]["ProduceID"] != report["fields"]["ProduceID"]


def test_an_english_export_and_anothers_conversation(
    conversation: str, gateway: Gateway, tokens: Tokens
) -> None:
    url = f"{gateway.url}/api/conversations/{conversation}/export"
    english = httpx.get(url, params={"lang": "en"}, headers=tokens.headers(OWNER), timeout=60)
    assert english.status_code == 200
    assert "本内容由人工智能生成 · This content is generated by artificial intelligence" in (
        english.text
    )
    assert "## Assistant" in english.text and "查差旅制度" not in english.text
    assert httpx.get(url, headers=tokens.headers(OTHER), timeout=60).status_code == 404
    refused = httpx.get(url, params={"format": "rtf"}, headers=tokens.headers(OWNER), timeout=60)
    assert refused.status_code == 422
