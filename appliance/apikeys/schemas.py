"""Wire shapes of ``/api/keys``: what a user asks for and what they see of a key."""

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
