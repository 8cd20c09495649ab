"""Service keys as the gateway serves them: a sysadmin makes, lists and revokes the keys of
integrations (``/api/service-keys``), every change audited.

三员分立: the secadmin's key policy decides whether service keys may exist
(``service_keys``); while it says no, making or listing them is refused with 403
``service_keys_disabled`` (revoking stays open, so a key can always be stopped). The
sysadmin alone manages them; the auditor reads their ``apikey.action`` events like any
other. A service key acts as ``svc:<integration>`` with the departments, clearance, daily
token quota, model and knowledge-base scopes, expiry (within the policy's ``max_days``)
and address allow-list given here; it is created and revoked through the same audited
steps as a personal key (:func:`~.serving.create_audited`, :func:`~.serving.revoke_audited`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import Depends, Request

from appliance.apikeys.key_policy import KeyPolicy
from appliance.apikeys.policy_store import PolicyStore
from appliance.apikeys.schemas import CreatedServiceKey, NewServiceKey, ServiceKeyOut
from appliance.apikeys.store import KeyStore, service_owner
from appliance.auth.principal import Principal, Role
from appliance.db.session import create_session_factory
from appliance.errors import Forbidden, InvalidRequest
from appliance.gateway.deps import State, deny_access, require_role
from appliance.gateway.edge.caller import Caller
from appliance.gateway.keys.auth import KeyAuthenticator, is_keyed
from appliance.gateway.keys.policy import policy_store
from appliance.gateway.keys.serving import Limits, create_audited, revoke_audited
from appliance.gateway.state import AuditSink
from appliance.rag.grades import level_of
from appliance.settings import Settings

SysadminOnly = Annotated[Principal, Depends(require_role(Role.SYSADMIN, "manage service keys"))]
DEPARTMENT_PREFIX = "/dept/"


@dataclass(frozen=True, slots=True)
class ServiceKeysContext:
    caller: Caller
    principal: Principal
    store: KeyStore
    policies: PolicyStore
    audit: AuditSink
    settings: Settings
    authenticator: KeyAuthenticator


async def service_keys_context(
    request: Request, principal: SysadminOnly, state: State
) -> ServiceKeysContext:
    if is_keyed(principal):
        try:
            deny_access(request, principal, (), "manage service keys", {"rule": "keyed_request"})
        except Forbidden as exc:
            raise Forbidden(
                "Service keys are managed after signing in, not with an API key.",
                code="api_key_cannot_manage_keys",
            ) from exc
    return ServiceKeysContext(
        caller=Caller.of(request, principal),
        principal=principal,
        store=KeyStore(create_session_factory(state.engine)),
        policies=policy_store(state),
        audit=state.audit,
        settings=state.settings,
        authenticator=cast(KeyAuthenticator, state.keys),
    )


ServiceContext = Annotated[ServiceKeysContext, Depends(service_keys_context)]


def disabled() -> Forbidden:
    return Forbidden(
        "The security administrator's API key policy does not allow service keys.",
        code="service_keys_disabled",
    )


def check_service_key(policy: KeyPolicy, body: NewServiceKey, grades: list[str]) -> None:
    """Refuse what may not be made: 403 ``service_keys_disabled`` while the policy says no,
    400 for a department outside ``/dept/``, a clearance not on the grade scale
    (``unknown_grade``) or a lifetime beyond the policy (``api_key_policy_max_days``)."""
    if not policy.service_keys:
        raise disabled()
    outside = [d for d in body.departments if not d.startswith(DEPARTMENT_PREFIX)]
    if outside:
        raise InvalidRequest(
            f"Invalid value for 'departments': {', '.join(outside)} is not a department"
            f" group ({DEPARTMENT_PREFIX}...).",
            code="invalid_value",
        )
    if body.clearance:
        level_of(body.clearance, grades)
    if body.expires_in_days is not None and body.expires_in_days > policy.max_days:
        raise InvalidRequest(
            f"Invalid value for 'expires_in_days': the API key policy allows at most"
            f" {policy.max_days} days.",
            code="api_key_policy_max_days",
        )


async def create_service_key(ctx: ServiceKeysContext, body: NewServiceKey) -> CreatedServiceKey:
    """Make a key for ``body.integration``; its intent audited first, the key returned once."""
    pepper = ctx.authenticator.pepper
    policy = await ctx.policies.current()
    owner = service_owner(
        body.integration,
        departments=body.departments,
        clearance=body.clearance.strip(),
        quota=body.daily_token_quota,
        created_by=ctx.principal.username,
    )

    async def store(limits: Limits) -> CreatedServiceKey:
        return await ctx.store.create_service(
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
        site_default_days=ctx.settings.api_keys.default_days,
        check=lambda: check_service_key(policy, body, list(ctx.settings.rag.grades)),
        store=store,
        service=owner.username,
        departments=list(owner.groups),
        clearance=owner.clearance,
        daily_token_quota=body.daily_token_quota,
    )


async def list_service_keys(ctx: ServiceKeysContext) -> list[ServiceKeyOut]:
    """Every integration's keys, never a key; 403 while the policy allows none."""
    if not (await ctx.policies.current()).service_keys:
        raise disabled()
    return await ctx.store.services()


async def revoke_service_key(ctx: ServiceKeysContext, key_id: uuid.UUID) -> ServiceKeyOut:
    """Revoke a service key (404 for a personal one); its intent audited first."""
    return await revoke_audited(
        ctx.caller,
        ctx.audit,
        key_id,
        lambda: ctx.store.revoke_service(key_id, datetime.now(UTC)),
        service=True,
    )
