"""Dependencies that read as policy: a route's signature says who may call it.

``CurrentPrincipal`` authenticates (401 plus an ``auth.failure`` audit event carrying the
reason code and client address, never the token); the role aliases additionally authorize
(403 plus an ``access.denied`` event). Every route except the health checks takes one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, cast

from fastapi import Depends, Request

from appliance.apikeys.keys import looks_like_key
from appliance.audit.events import EventType, Outcome
from appliance.auth.authenticator import bearer_token
from appliance.auth.principal import Principal, Role
from appliance.errors import Forbidden, Unauthenticated
from appliance.gateway.edge.caller import request_event
from appliance.gateway.state import GatewayState


def get_state(request: Request) -> GatewayState:
    return cast(GatewayState, request.app.state.gateway)


State = Annotated[GatewayState, Depends(get_state)]


async def current_principal(request: Request) -> Principal:
    state = get_state(request)
    header = request.headers.get("authorization")
    try:
        token = bearer_token(header)
        if looks_like_key(token):
            client = request.client
            principal = await state.keys.authenticate(token, client.host if client else "")
        else:
            principal = await state.authenticator.authenticate(header)
    except Unauthenticated as exc:
        state.audit.submit(
            request_event(
                request,
                EventType.AUTH_FAILURE,
                Outcome.UNAUTHENTICATED,
                http_status=401,
                detail={"reason": exc.code, "path": request.url.path},
            )
        )
        raise
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _submit_denied(request: Request, principal: Principal, detail: dict[str, Any]) -> None:
    """Record a 403: an ``access.denied`` event with ``detail`` and the path."""
    get_state(request).audit.submit(
        request_event(
            request,
            EventType.ACCESS_DENIED,
            Outcome.DENIED,
            principal=principal,
            http_status=403,
            detail={**detail, "path": request.url.path},
        )
    )


def require_model_in_scope(request: Request, principal: Principal, model: str) -> None:
    """A request made with an API key limited to some models may ask for those alone:
    another is 403 ``model_not_in_key_scope`` and an ``access.denied`` event."""
    scope = principal.extra.get("model_scope")
    if not isinstance(scope, list) or not scope or model in scope:
        return
    _submit_denied(request, principal, {"rule": "api_key_model_scope", "model": model})
    raise Forbidden(f"This API key may not use the model '{model}'.", code="model_not_in_key_scope")


def deny_access(
    request: Request,
    principal: Principal,
    roles: tuple[Role, ...],
    purpose: str,
    required: dict[str, Any],
) -> NoReturn:
    """Refuse a principal holding none of ``roles``: an ``access.denied`` event naming what
    was ``required`` and the path, then 403 ``missing_role`` saying which role would do."""
    _submit_denied(request, principal, required)
    names = " or ".join(f"'{role.value}'" for role in roles)
    raise Forbidden(
        f"The {names} role is required to {purpose}; ask your administrator.",
        code="missing_role",
    )


def require_role(role: Role, purpose: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only principals holding ``role``."""

    async def guard(request: Request) -> Principal:
        # Authenticates itself rather than depending on CurrentPrincipal: one dependency
        # instead of a chain keeps FastAPI's per-request resolution cheap on the chat path.
        principal = await current_principal(request)
        if not principal.has_role(role):
            deny_access(request, principal, (role,), purpose, {"required_role": role.value})
        return principal

    return guard


def require_any_role(roles: tuple[Role, ...], purpose: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through principals holding at least one of ``roles``."""

    async def guard(request: Request) -> Principal:
        principal = await current_principal(request)
        if not any(principal.has_role(role) for role in roles):
            required = {"required_roles": [r.value for r in roles]}
            deny_access(request, principal, roles, purpose, required)
        return principal

    return guard


require_staff = require_role(Role.STAFF, "chat with the model")
StaffPrincipal = Annotated[Principal, Depends(require_staff)]
AuditorPrincipal = Annotated[
    Principal, Depends(require_role(Role.AUDITOR, "read or verify the audit log"))
]
SysadminPrincipal = Annotated[
    Principal, Depends(require_role(Role.SYSADMIN, "operate the appliance"))
]
# The 等保 compliance export: the security administrator prepares the assessment, the
# auditor answers for the audit log; neither sees anything there the other could not.
ComplianceReader = Annotated[
    Principal,
    Depends(require_any_role((Role.SECADMIN, Role.AUDITOR), "export the compliance evidence")),
]
# 三员分立: the keyword library is the security administrator's alone.
SecadminPrincipal = Annotated[
    Principal, Depends(require_role(Role.SECADMIN, "manage the keyword library"))
]
