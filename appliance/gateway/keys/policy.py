"""The security administrator's API key policy as the gateway serves it
(``/api/content/api-key-policy``).

三员分立: only the ``secadmin`` role reads or changes it (the sysadmin, the auditor and
staff get 403 ``missing_role``), and never with an API key. A change commits its intent
(``apikey.action`` ``apikey.policy``, with the policy before and after) before the new
version is stored (503 ``audit_unavailable`` and nothing stored when it cannot be), then
records the outcome with the new revision. ``base_revision``, when given, makes a change
fail with 409 ``api_key_policy_changed`` if another came in since it was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from appliance.apikeys.key_policy import KeyPolicy, PolicyIn, PolicyOut, policy_out, proposed
from appliance.apikeys.policy_store import PolicyStore, changed
from appliance.audit.events import EventType
from appliance.auth.principal import Principal, Role
from appliance.db.session import create_session_factory
from appliance.errors import Forbidden
from appliance.gateway.deps import State, deny_access, require_role
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.keys.auth import is_keyed
from appliance.gateway.state import AuditSink

SecadminOnly = Annotated[
    Principal, Depends(require_role(Role.SECADMIN, "read or set the API key policy"))
]


@dataclass(frozen=True, slots=True)
class PolicyContext:
    caller: Caller
    principal: Principal
    store: PolicyStore
    audit: AuditSink
    site_max_days: int


def policy_store(state: State) -> PolicyStore:
    return PolicyStore(create_session_factory(state.engine), state.settings.api_keys.max_days)


async def policy_context(request: Request, principal: SecadminOnly, state: State) -> PolicyContext:
    if is_keyed(principal):
        try:
            deny_access(request, principal, (), "set the API key policy", {"rule": "keyed_request"})
        except Forbidden as exc:
            raise Forbidden(
                "The API key policy is set after signing in, not with an API key.",
                code="api_key_cannot_manage_keys",
            ) from exc
    return PolicyContext(
        caller=Caller.of(request, principal),
        principal=principal,
        store=policy_store(state),
        audit=state.audit,
        site_max_days=state.settings.api_keys.max_days,
    )


CurrentPolicy = Annotated[PolicyContext, Depends(policy_context)]


def _described(policy: KeyPolicy) -> dict[str, object]:
    creators = policy.creators
    return {
        "creators": [str(r) for r in creators] if isinstance(creators, list) else creators,
        "max_days": policy.max_days,
        "models": list(policy.models),
        "service_keys": policy.service_keys,
    }


async def read_policy(ctx: PolicyContext) -> PolicyOut:
    return policy_out(await ctx.store.current(), ctx.site_max_days)


async def set_policy(ctx: PolicyContext, body: PolicyIn) -> PolicyOut:
    """Store ``body`` as the next version, its intent audited first."""
    change = AuditedChange.of(ctx.caller, ctx.audit, EventType.APIKEY_ACTION, "apikey.policy")
    async with change.recording(denied_statuses=(409,), must_begin=True):
        new = proposed(body, ctx.site_max_days)
        current = await ctx.store.current()
        if body.base_revision is not None and body.base_revision != current.revision:
            raise changed()
        revision = current.revision + 1
        change.detail.update(
            base_revision=current.revision,
            revision=revision,
            before=_described(current),
            after=_described(new),
        )
        await change.begin()
        saved = await ctx.store.save(new, revision=revision, changed_by=ctx.principal.username)
    return policy_out(saved, ctx.site_max_days)
