"""Queries of ``api_keys``: create, list and revoke one's own keys or the integrations'
service keys (one insert, list and revoke for both), find one by its prefix."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from appliance.apikeys.keys import key_hash, new_key, prefix_of
from appliance.apikeys.models import ApiKeyRow
from appliance.apikeys.schemas import (
    SERVICE_PREFIX,
    CreatedKey,
    CreatedServiceKey,
    KeyOut,
    ServiceKeyOut,
)
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
    # A service key's: no Keycloak account behind it, a quota of its own, its maker.
    service: bool = False
    daily_token_quota: int | None = None
    created_by: str | None = None


def service_owner(
    integration: str, *, departments: Sequence[str], clearance: str, quota: int, created_by: str
) -> Owner:
    """The owner a service key acts as: ``svc:<integration>``, staff for chat only."""
    name = SERVICE_PREFIX + integration
    return Owner(
        subject=name,
        username=name,
        roles=["staff"],
        groups=sorted(set(departments)),
        clearance=clearance,
        service=True,
        daily_token_quota=quota,
        created_by=created_by,
    )


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


def service_key_out(row: ApiKeyRow) -> ServiceKeyOut:
    return ServiceKeyOut(
        **key_out(row).model_dump(),
        integration=row.owner_username.removeprefix(SERVICE_PREFIX),
        departments=list(row.groups),
        clearance=row.clearance,
        daily_token_quota=row.daily_token_quota or 0,
        created_by=row.created_by or "",
    )


class KeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def engine(self) -> AsyncEngine:
        """The engine the sessions are bound to: a service key's usage is read from the
        audit log on the same database."""
        return cast(AsyncEngine, self._sessions.kw["bind"])

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
        row, key = await self._insert(
            owner,
            name=name,
            pepper=pepper,
            expires_at=expires_at,
            models=models,
            allowed_cidrs=allowed_cidrs,
            key_id=key_id,
            kb_scope=kb_scope,
        )
        return CreatedKey(**key_out(row).model_dump(), key=key)

    async def create_service(
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
    ) -> CreatedServiceKey:
        """As :meth:`create`, for an integration's ``owner`` (:func:`service_owner`)."""
        row, key = await self._insert(
            owner,
            name=name,
            pepper=pepper,
            expires_at=expires_at,
            models=models,
            allowed_cidrs=allowed_cidrs,
            key_id=key_id,
            kb_scope=kb_scope,
        )
        return CreatedServiceKey(**service_key_out(row).model_dump(), key=key)

    async def _insert(
        self,
        owner: Owner,
        *,
        name: str,
        pepper: bytes,
        expires_at: datetime,
        models: list[str] | None,
        allowed_cidrs: list[str] | None,
        key_id: uuid.UUID,
        kb_scope: list[uuid.UUID] | None,
    ) -> tuple[ApiKeyRow, str]:
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
                service=owner.service,
                daily_token_quota=owner.daily_token_quota,
                created_by=owner.created_by,
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
            return row, key
        raise AssertionError("unreachable")

    async def _listed(self, where: ColumnElement[bool]) -> list[ApiKeyRow]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ApiKeyRow).where(where).order_by(ApiKeyRow.created_at.desc())
            )
            return list(rows)

    async def mine(self, subject: str) -> list[KeyOut]:
        return [key_out(row) for row in await self._listed(ApiKeyRow.owner_subject == subject)]

    async def services(self) -> list[ServiceKeyOut]:
        """Every integration's service key, newest first."""
        return [service_key_out(row) for row in await self._listed(ApiKeyRow.service.is_(True))]

    async def _revoke(
        self, where: ColumnElement[bool], key_id: uuid.UUID, now: datetime, missing: str
    ) -> ApiKeyRow:
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.id == key_id, where).with_for_update()
            )
            if row is None:
                raise NotFound(missing, code="api_key_not_found")
            if row.revoked_at is None:
                row.revoked_at = now
            return row

    async def revoke(self, subject: str, key_id: uuid.UUID, now: datetime) -> KeyOut:
        """Revoke one of ``subject``'s keys (404 for anyone else's); revoking twice keeps
        the first time."""
        row = await self._revoke(
            ApiKeyRow.owner_subject == subject, key_id, now, f"You have no API key {key_id}."
        )
        return key_out(row)

    async def revoke_service(self, key_id: uuid.UUID, now: datetime) -> ServiceKeyOut:
        """Revoke a service key (404 for a personal one); revoking twice keeps the first."""
        row = await self._revoke(
            ApiKeyRow.service.is_(True), key_id, now, f"No service key {key_id}."
        )
        return service_key_out(row)

    async def service_quotas(self) -> dict[str, int]:
        """Each integration's daily token quota: the largest of its keys still in force."""
        now = datetime.now().astimezone()
        quotas: dict[str, int] = {}
        for row in await self._listed(ApiKeyRow.service.is_(True)):
            if row.revoked_at is None and row.expires_at > now:
                name = row.owner_username
                quotas[name] = max(quotas.get(name, 0), row.daily_token_quota or 0)
        return quotas

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
