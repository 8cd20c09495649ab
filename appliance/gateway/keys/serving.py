"""Key management as the gateway serves it: a user's own keys, every change audited.

A new key must pass the security administrator's policy (:mod:`.policy`, checked by
:func:`~appliance.apikeys.key_policy.check_creation`): a refusal is recorded as the
creation's ``denied`` outcome. Creating and revoking commit their intent
(``apikey.action``, outcome ``pending``) before the table is touched, then record the
outcome; the events name the key's id, name, prefix, expiry, limits and the policy's
revision, never the key. Only a Keycloak sign-in manages keys: a request made with
a key is refused (403 ``api_key_cannot_manage_keys``), so a leaked key cannot mint more.

:func:`create_audited` and :func:`revoke_audited` are the order both kinds of key follow
(personal keys here, the integrations' service keys in :mod:`.service`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request

from appliance.apikeys.key_policy import KeyPolicy, check_creation, default_days
from appliance.apikeys.policy import expiry, parse_networks
from appliance.apikeys.policy_store import PolicyStore
from appliance.apikeys.schemas import CreatedKey, KeyOut, NewKey, NewServiceKey
from appliance.apikeys.store import KeyStore, Owner
from appliance.audit.events import EventType
from appliance.auth.principal import Principal
from appliance.db.session import create_session_factory
from appliance.errors import Forbidden
from appliance.gateway.deps import CurrentPrincipal, deny_access
from appliance.gateway.deps import State as GatewayStateDep
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.keys.auth import KeyAuthenticator, is_keyed
from appliance.gateway.keys.policy import policy_store
from appliance.gateway.state import AuditSink
from appliance.settings import ApiKeySettings


@dataclass(frozen=True, slots=True)
class KeysContext:
    caller: Caller
    principal: Principal
    store: KeyStore
    policies: PolicyStore
    audit: AuditSink
    settings: ApiKeySettings
    authenticator: KeyAuthenticator


async def keys_context(
    request: Request, principal: CurrentPrincipal, state: GatewayStateDep
) -> KeysContext:
    if is_keyed(principal):
        try:
            deny_access(request, principal, (), "manage API keys", {"rule": "keyed_request"})
        except Forbidden as exc:
            raise Forbidden(
                "API keys are managed after signing in, not with an API key.",
                code="api_key_cannot_manage_keys",
            ) from exc
    return KeysContext(
        caller=Caller.of(request, principal),
        principal=principal,
        store=KeyStore(create_session_factory(state.engine)),
        policies=policy_store(state),
        audit=state.audit,
        settings=state.settings.api_keys,
        authenticator=cast(KeyAuthenticator, state.keys),
    )


Context = Annotated[KeysContext, Depends(keys_context)]


Made = TypeVar("Made", bound=KeyOut)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a new key's request settles before it is stored."""

    key_id: uuid.UUID
    expires_at: datetime
    allowed_cidrs: list[str]


async def create_audited(
    caller: Caller,
    audit: AuditSink,
    body: NewKey | NewServiceKey,
    *,
    policy: KeyPolicy,
    site_default_days: int,
    check: Callable[[], None],
    store: Callable[[Limits], Awaitable[Made]],
    **detail: object,
) -> Made:
    """Make a key: ``check`` refuses what the policy does not allow (recorded as the
    creation's ``denied`` outcome), the intent (``apikey.create``) is committed, then
    ``store`` writes the key; the events name the key's limits, never the key."""
    key_id = uuid.uuid4()
    change = AuditedChange.of(
        caller,
        audit,
        EventType.APIKEY_ACTION,
        "apikey.create",
        status=201,
        key_id=str(key_id),
        name=body.name,
        models=body.models or [],
        kb_scope=[str(kb_id) for kb_id in body.kb_scope or ()],
        policy_revision=policy.revision,
    )
    change.detail.update(detail)
    async with change.recording(denied_statuses=(400, 403), must_begin=True):
        check()
        cidrs = [str(network) for network in parse_networks(body.allowed_cidrs or [])]
        expires_at = expiry(
            datetime.now(UTC),
            body.expires_in_days,
            default_days=default_days(policy, site_default_days),
            max_days=policy.max_days,
        )
        change.detail.update(expires_at=expires_at.isoformat(), allowed_cidrs=cidrs)
        await change.begin()
        created = await store(Limits(key_id, expires_at, cidrs))
        change.detail["prefix"] = created.prefix
    return created


async def revoke_audited(
    caller: Caller,
    audit: AuditSink,
    key_id: uuid.UUID,
    revoke: Callable[[], Awaitable[Made]],
    **detail: object,
) -> Made:
    """Revoke a key (``apikey.revoke``), its intent committed first."""
    change = AuditedChange.of(
        caller, audit, EventType.APIKEY_ACTION, "apikey.revoke", key_id=str(key_id)
    )
    change.detail.update(detail)
    await change.begin()
    async with change.recording(denied_statuses=(404,)):
        revoked = await revoke()
        change.detail.update(name=revoked.name, prefix=revoked.prefix)
    return revoked


async def create_key(ctx: KeysContext, body: NewKey) -> CreatedKey:
    """Make a key for the caller if the policy allows it; its intent is audited first, the
    key returned once."""
    pepper = ctx.authenticator.pepper
    policy = await ctx.policies.current()
    owner = Owner(
        subject=ctx.principal.subject,
        username=ctx.principal.username,
        roles=sorted(ctx.principal.roles),
        groups=sorted(ctx.principal.groups),
        clearance=ctx.principal.clearance,
    )

    def check() -> None:
        check_creation(policy, ctx.principal, body.expires_in_days, body.models)

    async def store(limits: Limits) -> CreatedKey:
        return await ctx.store.create(
            owner,
            name=body.name,
            pepper=pepper,
            expires_at=limits.expires_at,
            models=body.models,
            allowed_cidrs=limits.allowed_cidrs,
            key_id=limits.key_id,
            kb_scope=body.kb_scope,
        )

    return await create_audited(
        ctx.caller,
        ctx.audit,
        body,
        policy=policy,
        site_default_days=ctx.settings.default_days,
        check=check,
        store=store,
    )


async def list_keys(ctx: KeysContext) -> list[KeyOut]:
    """The caller's own keys: their own records, so not audited (as their conversations)."""
    return await ctx.store.mine(ctx.principal.subject)


async def revoke_key(ctx: KeysContext, key_id: uuid.UUID) -> KeyOut:
    """Revoke one of the caller's keys; its intent audited first."""
    subject = ctx.principal.subject
    return await revoke_audited(
        ctx.caller,
        ctx.audit,
        key_id,
        lambda: ctx.store.revoke(subject, key_id, datetime.now(UTC)),
    )
