"""The stored versions of the key policy (``api_key_policies``): the one in force and a
new one. With no row the default (revision 0) is in force."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.apikeys.key_policy import Creators, KeyPolicy, default_policy
from appliance.apikeys.models import ApiKeyPolicyRow
from appliance.auth.principal import Role
from appliance.errors import Conflict


def _creators(stored: object) -> Creators:
    if isinstance(stored, list):
        return [Role(role) for role in stored]
    return cast(Creators, stored)


def _policy(row: ApiKeyPolicyRow) -> KeyPolicy:
    return KeyPolicy(
        creators=_creators(row.creators),
        max_days=row.max_days,
        models=tuple(row.models),
        service_keys=row.service_keys,
        revision=row.revision,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


def changed() -> Conflict:
    return Conflict(
        "The API key policy changed since you read it; read it again.",
        code="api_key_policy_changed",
    )


class PolicyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], site_max_days: int) -> None:
        self._sessions = sessions
        self._site_max_days = site_max_days

    async def current(self) -> KeyPolicy:
        """The policy in force, its ``max_days`` never above the site's ceiling (which may
        have been lowered since it was stored)."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(ApiKeyPolicyRow).order_by(ApiKeyPolicyRow.revision.desc()).limit(1)
            )
        if row is None:
            return default_policy(self._site_max_days)
        policy = _policy(row)
        if policy.max_days > self._site_max_days:
            return KeyPolicy(
                creators=policy.creators,
                max_days=self._site_max_days,
                models=policy.models,
                service_keys=policy.service_keys,
                revision=policy.revision,
                changed_by=policy.changed_by,
                changed_at=policy.changed_at,
            )
        return policy

    async def save(self, policy: KeyPolicy, *, revision: int, changed_by: str) -> KeyPolicy:
        """Store ``policy`` as ``revision`` (the current one plus one); 409
        ``api_key_policy_changed`` when another change took that revision first."""
        row = ApiKeyPolicyRow(
            revision=revision,
            creators=[str(r) for r in policy.creators]
            if isinstance(policy.creators, list)
            else policy.creators,
            max_days=policy.max_days,
            models=list(policy.models),
            service_keys=policy.service_keys,
            changed_by=changed_by,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
                await session.flush()
                await session.refresh(row)
        except IntegrityError as exc:
            raise changed() from exc
        return _policy(row)
