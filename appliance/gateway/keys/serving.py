"""Key management as the gateway serves it: a user's own keys, every change audited.

A new key must pass the security administrator's policy (:mod:`.policy`, checked by
:func:`~appliance.apikeys.key_policy.check_creation`): a refusal is recorded as the
creation's ``denied`` outcome. Creating and revoking commit their intent
(``apikey.action``, outcome ``pending``) before the table is touched, then record the
outcome; the events name the key's id, name, prefix, expiry, limits and the policy's
revision, never the key. Only a Keycloak sign-in manages keys: a request made with
a key is refused (403 ``api_key_cannot_manage_keys``), so a leaked key cannot mint more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import Depends, Request

from appliance.apikeys.key_policy import check_creation, default_days
from appliance.apikeys.policy import expiry, parse_networks
from appliance.apikeys.policy_store import PolicyStore
from appliance.apikeys.schemas import CreatedKey, KeyOut, NewKey
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


async def create_key(ctx: KeysContext, body: NewKey) -> CreatedKey:
    """Make a key for the caller if the policy allows it; its intent is audited first, the
    key returned once."""
    pepper = ctx.authenticator.pepper
    policy = await ctx.policies.current()
    key_id = uuid.uuid4()
    change = AuditedChange.of(
        ctx.caller,
        ctx.audit,
        EventType.APIKEY_ACTION,
        "apikey.create",
        status=201,
        key_id=str(key_id),
        name=body.name,
        models=body.models or [],
        kb_scope=[str(kb_id) for kb_id in body.kb_scope or ()],
        policy_revision=policy.revision,
    )
    async with change.recording(denied_statuses=(400, 403), must_begin=True):
        check_creation(policy, ctx.principal, body.expires_in_days, body.models)
        cidrs = [str(network) for network in parse_networks(body.allowed_cidrs or [])]
        expires_at = expiry(
            datetime.now(UTC),
            body.expires_in_days,
            default_days=default_days(policy, ctx.settings.default_days),
            max_days=policy.max_days,
        )
        change.detail.update(expires_at=expires_at.isoformat(), allowed_cidrs=cidrs)
        await change.begin()
        owner = Owner(
            subject=ctx.principal.subject,
            username=ctx.principal.username,
            roles=sorted(ctx.principal.roles),
            groups=sorted(ctx.principal.groups),
            clearance=ctx.principal.clearance,
        )
        created = await ctx.store.create(
            owner,
            name=body.name,
            pepper=pepper,
            expires_at=expires_at,
            models=body.models,
            allowed_cidrs=cidrs,
            key_id=key_id,
            kb_scope=body.kb_scope,
        )
        change.detail["prefix"] = created.prefix
    return created


async def list_keys(ctx: KeysContext) -> list[KeyOut]:
    """The caller's own keys: their own records, so not audited (as their conversations)."""
    return await ctx.store.mine(ctx.principal.subject)


async def revoke_key(ctx: KeysContext, key_id: uuid.UUID) -> KeyOut:
    """Revoke one of the caller's keys; its intent audited first."""
    change = AuditedChange.of(
        ctx.caller, ctx.audit, EventType.APIKEY_ACTION, "apikey.revoke", key_id=str(key_id)
    )
    await change.begin()
    async with change.recording(denied_statuses=(404,)):
        revoked = await ctx.store.revoke(ctx.principal.subject, key_id, datetime.now(UTC))
        change.detail.update(name=revoked.name, prefix=revoked.prefix)
    return revoked
