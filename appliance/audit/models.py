"""Tables of the tamper-evident audit log.

``seq`` is not a database sequence: the writer assigns it under an advisory lock, in chain
order, so that sequence numbers have no gaps and a gap always means a deleted row.
``created_at`` is taken from the database clock inside that same locked transaction, so it
grows with ``seq`` across every gateway process and host.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Double, Index, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base


class AuditEventRow(Base):
    """One audit event as stored, with its link to the previous row of the chain."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    actor_subject: Mapped[str] = mapped_column(Text)
    actor_username: Mapped[str] = mapped_column(Text)
    actor_roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    actor_groups: Mapped[list[str]] = mapped_column(ARRAY(Text))
    client_id: Mapped[str] = mapped_column(Text)
    client_ip: Mapped[str] = mapped_column(Text)
    user_agent: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Double)
    ttft_ms: Mapped[float | None] = mapped_column(Double)
    document_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    chunk_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    prompt: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    prompt_sha256: Mapped[str | None] = mapped_column(Text)
    response_sha256: Mapped[str | None] = mapped_column(Text)
    capture_mode: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    writer_id: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(Text)
    hash_alg: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "request_id"),
        Index(None, "actor_username", "seq"),
        Index(None, "event_type", "seq"),
        Index(None, "actor_groups", postgresql_using="gin"),
    )


class AuditCheckpoint(Base):
    """A signed statement "the chain up to ``seq`` ends in ``head_hash``".

    Without a secret, anyone with write access could recompute a consistent chain after an
    edit; the Ed25519 signature over the head is what such a rewrite cannot reproduce.
    """

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signature: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(Text)
    alg: Mapped[str] = mapped_column(Text)
