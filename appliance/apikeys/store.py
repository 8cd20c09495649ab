"""Queries of ``api_keys``: create, list and revoke one's own, find one by its prefix."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.apikeys.keys import key_hash, new_key, prefix_of
from appliance.apikeys.models import ApiKeyRow
from appliance.apikeys.schemas import CreatedKey, KeyOut
from appliance.errors import NotFound

# last_used_at is written at most this often per key, so a busy key is not one UPDATE a call.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Owner:
    subject: str
    username: str
    roles: Sequence[str]
    groups: Sequence[str]
    clearance: str


def key_out(row: ApiKeyRow) -> KeyOut:
    return KeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        models=row.model_scope,
        allowed_cidrs=row.allowed_cidrs,
        kb_scope=row.kb_scope,
    )


class KeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        owner: Owner,
        *,
        name: str,
        pepper: bytes,
        expires_at: datetime,
        models: list[str] | None,
        allowed_cidrs: list[str] | None,
        key_id: uuid.UUID,
        kb_scope: list[uuid.UUID] | None = None,
    ) -> CreatedKey:
        """Store a new key under ``key_id`` and return it, the key in clear this once."""
        for attempt in range(_CREATE_ATTEMPTS):
            key = new_key()
            row = ApiKeyRow(
                id=key_id,
                owner_subject=owner.subject,
                owner_username=owner.username,
                name=name,
                prefix=prefix_of(key),
                key_hash=key_hash(key, pepper),
                roles=sorted(owner.roles),
                groups=sorted(owner.groups),
                clearance=owner.clearance,
                model_scope=models or None,
                allowed_cidrs=allowed_cidrs or None,
                kb_scope=sorted(set(kb_scope)) if kb_scope else None,
                expires_at=expires_at,
            )
            try:
                async with self._sessions() as session, session.begin():
                    session.add(row)
                    await session.flush()
                    await session.refresh(row)
            except IntegrityError:
                # Two keys sharing 48 random bits of prefix: draw another.
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                continue
            return CreatedKey(**key_out(row).model_dump(), key=key)
        raise AssertionError("unreachable")

    async def mine(self, subject: str) -> list[KeyOut]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ApiKeyRow)
                .where(ApiKeyRow.owner_subject == subject)
                .order_by(ApiKeyRow.created_at.desc())
            )
            return [key_out(row) for row in rows]

    async def revoke(self, subject: str, key_id: uuid.UUID, now: datetime) -> KeyOut:
        """Revoke one of ``subject``'s keys (404 for anyone else's); revoking twice keeps
        the first time."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.owner_subject == subject)
                .with_for_update()
            )
            if row is None:
                raise NotFound(f"You have no API key {key_id}.", code="api_key_not_found")
            if row.revoked_at is None:
                row.revoked_at = now
            return key_out(row)

    async def by_prefix(self, prefix: str) -> ApiKeyRow | None:
        async with self._sessions() as session:
            row: ApiKeyRow | None = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)
            )
            return row

    async def touch(self, row: ApiKeyRow, now: datetime) -> None:
        """Record a use, at most once per :data:`LAST_USED_RESOLUTION`."""
        if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now)
            )
