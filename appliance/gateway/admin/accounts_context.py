"""The context of the account routes: who calls, and how each change is audited.

Each change follows one order (:meth:`AccountsContext.change`):

1. the 三员分立 rule (:mod:`appliance.identity.policy`): a refusal is 403 and is audited
   as ``access.denied`` naming the rule;
2. an ``admin.action`` event with outcome ``pending`` is committed: if the audit store
   cannot take it, the caller gets 503 ``audit_unavailable`` and Keycloak hears nothing;
3. the change, through :class:`~appliance.identity.directory.Directory` in a worker thread
   (python-keycloak blocks);
4. a second ``admin.action`` event with the outcome (``ok`` or ``error``).

Passwords and client secrets are returned to the caller once and never put in an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from appliance.audit.events import EventType, Outcome
from appliance.auth.principal import Principal
from appliance.errors import Forbidden
from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink
from appliance.identity import policy
from appliance.identity.directory import Directory
from appliance.settings import KeycloakSettings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountsContext:
    caller: Caller
    principal: Principal
    audit: AuditSink
    keycloak: KeycloakSettings

    async def directory(self) -> Directory:
        return await asyncio.to_thread(Directory.connect, self.keycloak)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking directory call off the event loop."""
        return await asyncio.to_thread(fn, *args)

    @asynccontextmanager
    async def change(self, action: str, **detail: Any) -> AsyncIterator[AuditedChange]:
        """Audit one change: refusals, the committed intent, and the outcome."""
        change = AuditedChange.of(self.caller, self.audit, EventType.ADMIN_ACTION, action, **detail)
        try:
            async with change.recording(denied_statuses=(), unrecorded=(Forbidden,)):
                yield change
        except Forbidden as exc:
            denied = self.caller.event(EventType.ACCESS_DENIED, Outcome.DENIED, http_status=403)
            denied.detail = {**change.detail, "rule": exc.message}
            self.audit.submit(denied)
            raise

    def require_manager(self, action: str) -> None:
        """Listings are the sysadmin's too; a refusal is audited like a refused change."""
        try:
            policy.require_manager(self.principal)
        except Forbidden as exc:
            denied = self.caller.event(EventType.ACCESS_DENIED, Outcome.DENIED, http_status=403)
            denied.detail = {"action": action, "rule": exc.message}
            self.audit.submit(denied)
            raise

    async def read(self, action: str, **detail: Any) -> None:
        """A listing is audited and committed before its data leaves."""
        event = self.caller.event(EventType.ADMIN_ACTION, Outcome.OK, http_status=200)
        event.detail = {"action": action, **detail}
        await self.audit.commit(event)


async def accounts_context(
    request: Request, principal: CurrentPrincipal, state: State
) -> AccountsContext:
    return AccountsContext(
        caller=Caller.of(request, principal),
        principal=principal,
        audit=state.audit,
        keycloak=state.settings.keycloak,
    )


CurrentAccounts = Annotated[AccountsContext, Depends(accounts_context)]
