"""Wire shapes of ``/api/keys`` (what a user asks for and sees of a key) and of
``/api/service-keys`` (what a sysadmin asks for and sees of an integration's key)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    # Days until it expires; the default and the maximum are settings (``api_keys``).
    expires_in_days: int | None = None
    models: list[str] | None = Field(default=None, max_length=50)
    allowed_cidrs: list[str] | None = Field(default=None, max_length=50)
    # Knowledge-base ids the key may retrieve from; absent: every one its owner may read.
    kb_scope: list[uuid.UUID] | None = Field(default=None, max_length=50)


class KeyOut(BaseModel):
    """A key as its owner lists it: never the key or its hash."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    models: list[str] | None
    allowed_cidrs: list[str] | None
    kb_scope: list[uuid.UUID] | None = None


class CreatedKey(KeyOut):
    """The answer to a creation, the only one that holds the key."""

    key: str


# An integration's name: ``svc:<name>`` is the key's actor in every audit row.
INTEGRATION_PATTERN = r"^[a-z0-9-]{1,40}$"
SERVICE_PREFIX = "svc:"


class NewServiceKey(BaseModel):
    """A key for an integration: the owner it acts as and every limit are the key's own."""

    model_config = ConfigDict(extra="forbid")

    integration: str = Field(pattern=INTEGRATION_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    # Department groups (``/dept/...``) whose knowledge bases the key may read.
    departments: list[str] = Field(default_factory=list, max_length=50)
    # The data grade the key is cleared for; empty: the lowest.
    clearance: str = Field(default="", max_length=40)
    daily_token_quota: int = Field(ge=1)
    expires_in_days: int | None = None
    models: list[str] | None = Field(default=None, max_length=50)
    allowed_cidrs: list[str] | None = Field(default=None, max_length=50)
    kb_scope: list[uuid.UUID] | None = Field(default=None, max_length=50)


class ServiceKeyOut(KeyOut):
    """A service key as a sysadmin lists it: never the key or its hash."""

    integration: str
    departments: list[str]
    clearance: str
    daily_token_quota: int
    created_by: str


class CreatedServiceKey(ServiceKeyOut):
    """The answer to a creation, the only one that holds the key."""

    key: str
