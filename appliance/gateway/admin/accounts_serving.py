"""Account management: users, department groups, roles and API clients.

Each function checks the 三员分立 rule first (:mod:`appliance.identity.policy`), then
commits its intent through :meth:`AuditedChange.begin` before Keycloak is asked for
anything (see :mod:`.accounts_context`). One-time passwords and client secrets go back to
the caller and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from appliance.errors import ApplianceError
from appliance.gateway.admin.accounts_context import AccountsContext
from appliance.identity import policy
from appliance.identity.directory import Directory
from appliance.identity.schemas import (
    ClientCredentials,
    ClientOut,
    GroupOut,
    ImportRow,
    NewClient,
    NewUser,
    OneTimePassword,
    RoleChange,
    UserOut,
)

T = TypeVar("T")


async def _listed(
    ctx: AccountsContext, action: str, method: Callable[[Directory], Callable[[], list[T]]]
) -> list[T]:
    """A listing: the manager rule, then the read, audited and committed before it leaves."""
    ctx.require_manager(action)
    directory = await ctx.directory()
    items = await ctx.call(method(directory))
    await ctx.read(action, count=len(items))
    return items


async def list_users(ctx: AccountsContext) -> list[UserOut]:
    return await _listed(ctx, "users.list", lambda directory: directory.list_users)


async def add_user(ctx: AccountsContext, new: NewUser) -> OneTimePassword:
    detail = {"target": new.username, "roles": sorted(new.roles), "department": new.department}
    async with ctx.change("user.add", **detail) as change:
        policy.check_new_account_roles(ctx.principal, new.roles)
        directory = await ctx.directory()
        await change.begin()
        user_id, password = await ctx.call(directory.add_user, new)
        change.detail["target_id"] = user_id
    return OneTimePassword(username=new.username, password=password)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


async def import_users(ctx: AccountsContext, rows: list[dict[str, object]]) -> list[ImportRow]:
    """Each row on its own: a bad row is reported with its reason and the rest go on.

    Even a failing audit store fails the rows one by one rather than the whole request,
    so the one-time passwords of the rows already created are not lost.
    """
    ctx.require_manager("users.import")
    results: list[ImportRow] = []
    for number, raw in enumerate(rows, start=1):
        username = str(raw.get("username") or "")
        try:
            new = NewUser.model_validate(raw)
        except ValidationError as exc:
            results.append(
                ImportRow(
                    row=number,
                    username=username,
                    ok=False,
                    error="invalid_row",
                    message=_reason(exc),
                )
            )
            continue
        try:
            created = await add_user(ctx, new)
        except ApplianceError as exc:
            results.append(
                ImportRow(
                    row=number, username=new.username, ok=False, error=exc.code, message=exc.message
                )
            )
            continue
        results.append(
            ImportRow(row=number, username=new.username, ok=True, password=created.password)
        )
    return results


async def set_enabled(ctx: AccountsContext, username: str, enabled: bool) -> UserOut:
    action = "user.enable" if enabled else "user.disable"
    async with ctx.change(action, target=username) as change:
        policy.require_account_manager(ctx.principal)
        directory = await ctx.directory()
        target = await ctx.call(directory.get_user, username)
        change.detail["target_id"] = target.id
        policy.check_enable(ctx.principal, target.id, target.roles, enabled=enabled)
        await change.begin()
        await ctx.call(directory.set_enabled, target.id, enabled)
        user = await ctx.call(directory.get_user, username)
    return user


async def reset_password(ctx: AccountsContext, username: str) -> OneTimePassword:
    async with ctx.change("user.reset_password", target=username) as change:
        policy.require_manager(ctx.principal)
        directory = await ctx.directory()
        target = await ctx.call(directory.get_user, username)
        change.detail["target_id"] = target.id
        policy.check_reset_password(ctx.principal, target.roles)
        await change.begin()
        password = await ctx.call(directory.reset_password, target.id)
    return OneTimePassword(username=username, password=password)


async def change_roles(ctx: AccountsContext, username: str, body: RoleChange) -> UserOut:
    """Grant and revoke realm roles; the administrator roles are the secadmin's."""
    detail = {"target": username, "grant": sorted(body.grant), "revoke": sorted(body.revoke)}
    async with ctx.change("user.roles", **detail) as change:
        policy.check_role_change(ctx.principal, None, [*body.grant, *body.revoke])
        directory = await ctx.directory()
        user_id = await ctx.call(directory.user_id, username)
        change.detail["target_id"] = user_id
        policy.check_role_change(ctx.principal, user_id, [*body.grant, *body.revoke])
        await change.begin()
        roles = await ctx.call(directory.change_roles, user_id, body.grant, body.revoke)
        change.detail["roles_after"] = roles
        user = await ctx.call(directory.get_user, username)
    return user


async def list_groups(ctx: AccountsContext) -> list[GroupOut]:
    return await _listed(ctx, "groups.list", lambda directory: directory.list_groups)


async def add_group(ctx: AccountsContext, path: str) -> GroupOut:
    async with ctx.change("group.add", target=path) as change:
        policy.require_manager(ctx.principal)
        directory = await ctx.directory()
        await change.begin()
        change.detail["target_id"] = await ctx.call(directory.add_group, path)
    return GroupOut(path=path, members=0)


async def add_member(ctx: AccountsContext, group: str, username: str) -> UserOut:
    async with ctx.change("group.add_member", target=username, group=group) as change:
        policy.require_manager(ctx.principal)
        directory = await ctx.directory()
        user_id = await ctx.call(directory.user_id, username)
        change.detail["target_id"] = user_id
        await ctx.call(directory.group_id, group)
        await change.begin()
        await ctx.call(directory.add_member, user_id, group)
        user = await ctx.call(directory.get_user, username)
    return user


async def list_clients(ctx: AccountsContext) -> list[ClientOut]:
    return await _listed(ctx, "clients.list", lambda directory: directory.list_clients)


async def add_client(ctx: AccountsContext, new: NewClient) -> ClientCredentials:
    async with ctx.change("client.add", department=new.department) as change:
        policy.require_manager(ctx.principal)
        directory = await ctx.directory()
        change.detail["target"] = directory.client_id_for(new.name)
        await change.begin()
        client_id, secret = await ctx.call(directory.add_client, new)
    return ClientCredentials(
        client_id=client_id, client_secret=secret, token_url=directory.token_url
    )


async def disable_client(ctx: AccountsContext, client_id: str) -> None:
    async with ctx.change("client.disable", target=client_id) as change:
        policy.require_manager(ctx.principal)
        directory = await ctx.directory()
        await change.begin()
        await ctx.call(directory.set_client_enabled, client_id, False)
