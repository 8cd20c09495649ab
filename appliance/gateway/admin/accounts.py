"""Account management (``/api/admin/accounts``): users, departments, roles, API clients.

Any authenticated caller reaches these routes; the 三员分立 rules in
:mod:`appliance.identity.policy` decide (the sysadmin manages accounts, the secadmin grants
the administrator roles) and every refusal is 403 ``separation_of_duties``, audited. Each
change commits its audit event before Keycloak is asked (503 ``audit_unavailable`` when it
cannot) and records its outcome; see :mod:`.accounts_context`.
"""

from __future__ import annotations

from fastapi import APIRouter, Path

from appliance.gateway.admin import accounts_serving as serving
from appliance.gateway.admin.accounts_context import CurrentAccounts
from appliance.gateway.edge.openapi import AUTHENTICATED, errors
from appliance.identity.schemas import (
    USERNAME,
    ClientCredentials,
    ClientOut,
    GroupOut,
    ImportRequest,
    ImportResult,
    NewClient,
    NewGroup,
    NewMember,
    NewUser,
    OneTimePassword,
    RoleChange,
    UserOut,
)

router = APIRouter(prefix="/api/admin/accounts", tags=["accounts"])

# Invalid (400), refused (403), unknown (404), exists (409), Keycloak (502), audit store (503).
_CHANGE = errors(*AUTHENTICATED, 400, 403, 404, 409, 422, 502, 503)
# A listing: refused (403), Keycloak (502), audit store (503).
_LISTING = errors(*AUTHENTICATED, 403, 502, 503)
_USERNAME = Path(pattern=USERNAME)


@router.get("/users", responses=_LISTING)
async def list_users(ctx: CurrentAccounts) -> list[UserOut]:
    """Every person's account: name, email, enabled, roles, departments, created."""
    return await serving.list_users(ctx)


@router.post("/users", status_code=201, responses=_CHANGE)
async def add_user(ctx: CurrentAccounts, body: NewUser) -> OneTimePassword:
    """Create an account; its one-time password is in this answer only."""
    return await serving.add_user(ctx, body)


@router.post("/users/import", responses=_CHANGE)
async def import_users(ctx: CurrentAccounts, body: ImportRequest) -> ImportResult:
    """Create many accounts; each row is reported ok (with its one-time password) or not."""
    return ImportResult(results=await serving.import_users(ctx, body.users))


@router.post("/users/{username}/disable", responses=_CHANGE)
async def disable_user(ctx: CurrentAccounts, username: str = _USERNAME) -> UserOut:
    return await serving.set_enabled(ctx, username, False)


@router.post("/users/{username}/enable", responses=_CHANGE)
async def enable_user(ctx: CurrentAccounts, username: str = _USERNAME) -> UserOut:
    return await serving.set_enabled(ctx, username, True)


@router.post("/users/{username}/reset-password", responses=_CHANGE)
async def reset_password(ctx: CurrentAccounts, username: str = _USERNAME) -> OneTimePassword:
    """A new one-time password, which must be changed at the next sign-in."""
    return await serving.reset_password(ctx, username)


@router.post("/users/{username}/roles", responses=_CHANGE)
async def change_roles(
    ctx: CurrentAccounts, body: RoleChange, username: str = _USERNAME
) -> UserOut:
    """Grant or revoke realm roles (the administrator roles need the secadmin)."""
    return await serving.change_roles(ctx, username, body)


@router.get("/groups", responses=_LISTING)
async def list_groups(ctx: CurrentAccounts) -> list[GroupOut]:
    """The departments under ``/dept`` with their member counts."""
    return await serving.list_groups(ctx)


@router.post("/groups", status_code=201, responses=_CHANGE)
async def add_group(ctx: CurrentAccounts, body: NewGroup) -> GroupOut:
    return await serving.add_group(ctx, body.path)


@router.post("/groups/members", responses=_CHANGE)
async def add_member(ctx: CurrentAccounts, body: NewMember) -> UserOut:
    return await serving.add_member(ctx, body.group, body.username)


@router.get("/clients", responses=_LISTING)
async def list_clients(ctx: CurrentAccounts) -> list[ClientOut]:
    """The integration clients (service accounts) that may call the gateway."""
    return await serving.list_clients(ctx)


@router.post("/clients", status_code=201, responses=_CHANGE)
async def add_client(ctx: CurrentAccounts, body: NewClient) -> ClientCredentials:
    """Create an integration client; its secret is in this answer only."""
    return await serving.add_client(ctx, body)


@router.post("/clients/{client_id}/disable", status_code=204, responses=_CHANGE)
async def disable_client(ctx: CurrentAccounts, client_id: str) -> None:
    await serving.disable_client(ctx, client_id)
