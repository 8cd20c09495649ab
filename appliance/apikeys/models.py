"""The ``api_keys`` table: one row per personal or service key, never the key itself; and
``api_key_policies``, the versions of the security administrator's key policy.

The owner's roles, department groups and clearance are copied in at creation, so a keyed
request has them without a token; the gateway intersects them with the owner's current
Keycloak account at most every ``api_keys.account_recheck_s``. A service key (``service``)
has no account behind it: its owner is ``svc:<integration>``, its departments and clearance
are the ones the sysadmin gave it, and it has a daily token quota of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, Text, Uuid, false, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_owner_subject_created_at", "owner_subject", "created_at"),
        Index("ix_api_keys_service_created_at", "service", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_subject: Mapped[str] = mapped_column(Text)
    owner_username: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    groups: Mapped[list[str]] = mapped_column(ARRAY(Text))
    clearance: Mapped[str] = mapped_column(Text, server_default="")
    model_scope: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    allowed_cidrs: Mapped[list[str] | None] = mapped_column(ARRAY(Text), nullable=True)
    # The knowledge bases the key may retrieve from; None: every one its owner may read.
    kb_scope: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    service: Mapped[bool] = mapped_column(Boolean, server_default=false())
    daily_token_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApiKeyPolicyRow(Base):
    """One version of the security administrator's key policy (``key_policy``); the highest
    revision is in force. Rows are only added: the history stays."""

    __tablename__ = "api_key_policies"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # "staff", "nobody", or a list of realm roles.
    creators: Mapped[object] = mapped_column(JSONB)
    max_days: Mapped[int] = mapped_column(Integer)
    models: Mapped[list[str]] = mapped_column(ARRAY(Text))
    service_keys: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
