"""The gateway's OpenAPI document and the routing rules it states (no services needed)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from appliance.gateway.app import create_app
from appliance.gateway.auditor.routes import EventFilter


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def test_every_authenticated_operation_documents_its_errors(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                continue
            for status in ("401", "503"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_self_parsed_bodies_are_documented_with_the_configured_caps(
    document: dict[str, Any],
) -> None:
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ChatCompletionBody"
    )
    body = document["components"]["schemas"]["ChatCompletionBody"]["properties"]
    assert body["messages"]["maxItems"] == 256
    assert {"maximum": 8192, "minimum": 1, "type": "integer"} in body["max_tokens"]["anyOf"]
    assert "rag" in body
    upload = document["paths"]["/api/kb/{kb_id}/documents"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]


def test_wrong_method_lists_every_method_of_the_path() -> None:
    client = TestClient(create_app())
    refused = client.get("/api/kb/search")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert refused.json()["error"]["code"] == "method_not_allowed"
    kb = client.put("/api/kb/6f1c2a9e-8f6d-4d8e-9a59-2f7f3f0b1c11")
    assert kb.status_code == 405 and kb.headers["allow"] == "DELETE, GET"


def test_an_id_that_is_not_a_uuid_names_no_knowledge_base() -> None:
    assert TestClient(create_app()).get("/api/kb/not-a-uuid/documents").status_code == 404


@pytest.mark.parametrize("value", ["0.5", "1795892413", "2026-11-28T10:00:00", "yesterday"])
def test_audit_time_filters_take_rfc3339_with_an_offset_only(value: str) -> None:
    with pytest.raises(ValidationError):
        EventFilter.model_validate({"until": value})


def test_audit_time_filters_accept_rfc3339() -> None:
    parsed = EventFilter.model_validate({"since": "2026-11-28T10:00:00+08:00"})
    assert parsed.since is not None and parsed.since.utcoffset() is not None


def test_audit_text_filters_refuse_nul() -> None:
    with pytest.raises(ValidationError):
        EventFilter.model_validate({"user": "a\x00b"})
