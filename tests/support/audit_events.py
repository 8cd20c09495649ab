"""Building events and writers for the audit integration tests."""

from __future__ import annotations

from appliance.audit.events import Actor, AuditEvent, EventType, Outcome

ZHANG = Actor("sub-zhang", "zhang.wei", ("staff",), ("/dept/finance",), "appliance-webui")
LI = Actor("sub-li", "li.na", ("staff", "kb-editor"), ("/dept/legal",), "appliance-webui")


def begin(request_id: str, actor: Actor = ZHANG, prompt: str = "你好") -> AuditEvent:
    return AuditEvent(
        EventType.CHAT_BEGIN,
        Outcome.PENDING,
        request_id,
        actor,
        client_ip="127.0.0.1",
        user_agent="pytest",
        model="smollm2",
        prompt=prompt,
    )


def end(request_id: str, actor: Actor = ZHANG, response: str = "好的") -> AuditEvent:
    return AuditEvent(
        EventType.CHAT_END,
        Outcome.OK,
        request_id,
        actor,
        http_status=200,
        model="smollm2",
        backend="http://127.0.0.1:8011",
        prompt_tokens=12,
        completion_tokens=34,
        latency_ms=123.4,
        ttft_ms=5.6,
        document_ids=["doc-1"],
        chunk_ids=["chunk-1", "chunk-2"],
        response=response,
        detail={"stream": True},
    )
