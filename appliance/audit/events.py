"""What an audit event says, independent of how it is stored.

The gateway builds these with the raw prompt and answer; the audit writer applies the
configured capture mode (full, redacted, hash) before anything is stored, so the policy
lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventType(StrEnum):
    CHAT_BEGIN = "chat.begin"
    CHAT_END = "chat.end"
    EMBEDDINGS = "embeddings"
    MODELS_LIST = "models.list"
    AUTH_FAILURE = "auth.failure"
    ACCESS_DENIED = "access.denied"
    RATE_LIMITED = "rate.limited"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_ARCHIVE = "audit.archive"
    COMPLIANCE_EXPORT = "compliance.export"
    ADMIN_ACTION = "admin.action"
    KB_ACTION = "kb.action"
    CONVERSATION_ACTION = "conversation.action"
    CONTENT_ACTION = "content.action"
    CONTENT_BLOCKED = "content.blocked"
    COMPLAINT_ACTION = "complaint.action"
    APIKEY_ACTION = "apikey.action"
    SYSTEM = "system"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    UNAUTHENTICATED = "unauthenticated"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    CLIENT_ABORTED = "client_aborted"
    UPSTREAM_ABORTED = "upstream_aborted"
    INTERRUPTED = "interrupted"
    PENDING = "pending"


@dataclass(slots=True)
class Actor:
    subject: str = ""
    username: str = ""
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    client_id: str = ""


@dataclass(slots=True)
class AuditEvent:
    event_type: EventType
    outcome: Outcome
    request_id: str
    actor: Actor = field(default_factory=Actor)
    client_ip: str = ""
    user_agent: str = ""
    http_status: int | None = None
    model: str | None = None
    backend: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    document_ids: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    # Raw text; the writer stores it according to the capture mode.
    prompt: str | None = None
    reasoning: str | None = None
    response: str | None = None
    # Anything else worth keeping (error message, filter used by an auditor, ...).
    detail: dict[str, object] = field(default_factory=dict)
