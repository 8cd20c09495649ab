"""``appliance users|groups|clients``: accounts, departments and API clients, for the sysadmin.

Thin commands over typed functions: each signs in (or reads ``APPLIANCE_TOKEN``, see
:mod:`appliance.cli.gateway_session`), calls the gateway's ``/api/admin/accounts`` routes
and prints a table. The gateway decides who may do what (三员分立: the sysadmin manages
accounts; granting sysadmin, secadmin or auditor needs the secadmin) and audits each change;
a refusal is printed with the rule it names and the command exits 1. One-time passwords and
client secrets are printed once, here, and stored nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from appliance.cli.gateway_session import Gateway, GatewayError, access_token, gateway_url
from appliance.cli.gateway_session import issuer_url as find_issuer
from appliance.identity.hr_csv import CsvFormatError, read_rows

users_app = typer.Typer(
    help="User accounts (sysadmin; admin roles need the secadmin).", no_args_is_help=True
)
groups_app = typer.Typer(help="Departments: groups under /dept.", no_args_is_help=True)
clients_app = typer.Typer(
    help="API clients for integrations (client credentials).", no_args_is_help=True
)

ACCOUNTS = "/api/admin/accounts"
GatewayOpt = Annotated[
    str | None, typer.Option("--gateway", help="Gateway URL (or APPLIANCE_GATEWAY_URL).")
]
IssuerOpt = Annotated[
    str | None, typer.Option("--issuer", help="Keycloak realm URL (or APPLIANCE_ISSUER).")
]
AdminOpt = Annotated[
    str | None, typer.Option("--as", help="Administrator to sign in as (asked if not given).")
]
RolesArg = Annotated[list[str], typer.Argument(help="staff, kb-editor, sysadmin, ...")]


# Typed functions: what each command does, callable from tests with a Gateway. --------


def list_users(gw: Gateway) -> list[dict[str, Any]]:
    return list(gw.call("GET", f"{ACCOUNTS}/users"))


def add_user(gw: Gateway, user: dict[str, Any]) -> dict[str, Any]:
    return dict(gw.call("POST", f"{ACCOUNTS}/users", user))


def import_users(gw: Gateway, csv_file: Path) -> list[dict[str, Any]]:
    """Each row of the HR export, reported ok (with its one-time password) or with why not."""
    rows = read_rows(csv_file)
    return list(gw.call("POST", f"{ACCOUNTS}/users/import", {"users": rows})["results"])


def set_enabled(gw: Gateway, username: str, *, enabled: bool) -> dict[str, Any]:
    action = "enable" if enabled else "disable"
    return dict(gw.call("POST", f"{ACCOUNTS}/users/{username}/{action}"))


def reset_password(gw: Gateway, username: str) -> dict[str, Any]:
    return dict(gw.call("POST", f"{ACCOUNTS}/users/{username}/reset-password"))


def change_roles(
    gw: Gateway, username: str, *, grant: Sequence[str] = (), revoke: Sequence[str] = ()
) -> dict[str, Any]:
    body = {"grant": list(grant), "revoke": list(revoke)}
    return dict(gw.call("POST", f"{ACCOUNTS}/users/{username}/roles", body))


def list_groups(gw: Gateway) -> list[dict[str, Any]]:
    return list(gw.call("GET", f"{ACCOUNTS}/groups"))


def add_group(gw: Gateway, path: str) -> dict[str, Any]:
    return dict(gw.call("POST", f"{ACCOUNTS}/groups", {"path": path}))


def add_member(gw: Gateway, group: str, username: str) -> dict[str, Any]:
    body = {"group": group, "username": username}
    return dict(gw.call("POST", f"{ACCOUNTS}/groups/members", body))


def add_client(gw: Gateway, name: str, department: str | None) -> dict[str, Any]:
    return dict(gw.call("POST", f"{ACCOUNTS}/clients", {"name": name, "department": department}))


def list_clients(gw: Gateway) -> list[dict[str, Any]]:
    return list(gw.call("GET", f"{ACCOUNTS}/clients"))


def disable_client(gw: Gateway, client_id: str) -> None:
    gw.call("POST", f"{ACCOUNTS}/clients/{client_id}/disable")


# The edge: sign in, run, print; errors become a message and exit code 1. --------------

console = Console()


@contextmanager
def _session(gateway: str | None, issuer: str | None, admin: str | None) -> Iterator[Gateway]:
    url = gateway_url(gateway)
    try:
        gw = Gateway.open(url, access_token(find_issuer(issuer, url), admin))
    except GatewayError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    try:
        yield gw
    except GatewayError as exc:
        console.print(f"[red]refused: {exc.message}[/red] ({exc.status} {exc.code})")
        raise typer.Exit(1) from exc
    except CsvFormatError as exc:
        console.print(f"[red]cannot read the file: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        gw.close()


def _users_table(users: Sequence[dict[str, Any]], title: str = "Users") -> Table:
    table = Table("username", "name", "email", "enabled", "roles", "departments", "created")
    table.title = title
    for user in users:
        table.add_row(
            user["username"],
            user["name"],
            user["email"],
            "yes" if user["enabled"] else "[red]no[/red]",
            ", ".join(user["roles"]),
            ", ".join(user["departments"]),
            (user.get("created") or "")[:19].replace("T", " "),
        )
    return table


def _password_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table("username", "one-time password", title="Give each person their password")
    for row in rows:
        table.add_row(row["username"], row["password"])
    table.caption = "Shown once; it must be changed at the first sign-in."
    return table


@users_app.command("list")
def users_list(
    gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """Every account: name, email, enabled, roles, departments, created."""
    with _session(gateway, issuer, admin) as gw:
        console.print(_users_table(list_users(gw)))


@users_app.command("add")
def users_add(  # noqa: PLR0917 - Typer passes every option by keyword
    username: Annotated[str, typer.Argument(help="Sign-in name, e.g. zhang.wei.")],
    name: Annotated[str, typer.Option(help="Full name, e.g. 张伟.")] = "",
    email: Annotated[str, typer.Option(help="Email address.")] = "",
    department: Annotated[str | None, typer.Option(help="Department, e.g. /dept/finance.")] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="Role (repeatable); default staff.")
    ] = None,
    gateway: GatewayOpt = None,
    issuer: IssuerOpt = None,
    admin: AdminOpt = None,
) -> None:
    """Create an account and print its one-time password."""
    user: dict[str, Any] = {
        "username": username,
        "name": name,
        "email": email,
        "department": department,
    }
    if role:
        user["roles"] = role
    with _session(gateway, issuer, admin) as gw:
        console.print(_password_table([add_user(gw, user)]))


@users_app.command("import")
def users_import(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="HR export.")],
    gateway: GatewayOpt = None,
    issuer: IssuerOpt = None,
    admin: AdminOpt = None,
) -> None:
    """Create the accounts of a CSV file (username,name,email,department,roles; UTF-8 or
    GB18030). Prints each row's result and one-time password; exits 1 if any row failed."""
    with _session(gateway, issuer, admin) as gw:
        results = import_users(gw, csv_file)
    table = Table("row", "username", "result", "one-time password / reason", title="Import")
    for row in results:
        outcome = "[green]created[/green]" if row["ok"] else f"[red]{row['error']}[/red]"
        shown = row.get("password") or row.get("message") or ""
        table.add_row(str(row["row"]), row["username"], outcome, shown)
    console.print(table)
    failed = sum(1 for row in results if not row["ok"])
    console.print(f"{len(results) - failed} created, {failed} failed")
    if failed:
        raise typer.Exit(1)


def _user_change(username: str, session: tuple[str | None, ...], **change: Any) -> None:
    with _session(*session) as gw:
        if "enabled" in change:
            user = set_enabled(gw, username, enabled=change["enabled"])
        else:
            user = change_roles(gw, username, grant=change["grant"], revoke=change["revoke"])
    console.print(_users_table([user], title="Now"))


@users_app.command("disable")
def users_disable(
    username: str, gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """Disable an account (its sessions end at the next token refresh)."""
    _user_change(username, (gateway, issuer, admin), enabled=False)


@users_app.command("enable")
def users_enable(
    username: str, gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """Enable a disabled account again."""
    _user_change(username, (gateway, issuer, admin), enabled=True)


@users_app.command("reset-password")
def users_reset_password(
    username: str, gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """Give an account a new one-time password."""
    with _session(gateway, issuer, admin) as gw:
        console.print(_password_table([reset_password(gw, username)]))


def _role_command(name: str, verb: str, *, granting: bool) -> None:
    """Register ``users grant`` or ``users revoke``: the same arguments, the roles on one side."""

    def command(
        username: str,
        roles: RolesArg,
        gateway: GatewayOpt = None,
        issuer: IssuerOpt = None,
        admin: AdminOpt = None,
    ) -> None:
        grant, revoke = (roles, []) if granting else ([], roles)
        _user_change(username, (gateway, issuer, admin), grant=grant, revoke=revoke)

    command.__doc__ = f"{verb} roles (sysadmin, secadmin and auditor only by the secadmin)."
    users_app.command(name)(command)


_role_command("grant", "Grant", granting=True)
_role_command("revoke", "Revoke", granting=False)


@groups_app.command("list")
def groups_list(
    gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """The departments and how many members each has."""
    with _session(gateway, issuer, admin) as gw:
        table = Table("department", "members", title="Departments")
        for group in list_groups(gw):
            table.add_row(group["path"], str(group["members"]))
        console.print(table)


@groups_app.command("add")
def groups_add(
    path: Annotated[str, typer.Argument(help="e.g. /dept/hr")],
    gateway: GatewayOpt = None,
    issuer: IssuerOpt = None,
    admin: AdminOpt = None,
) -> None:
    """Add a department under /dept."""
    with _session(gateway, issuer, admin) as gw:
        console.print(f"added {add_group(gw, path)['path']}")


@groups_app.command("add-member")
def groups_add_member(
    path: Annotated[str, typer.Argument(help="e.g. /dept/hr")],
    username: str,
    gateway: GatewayOpt = None,
    issuer: IssuerOpt = None,
    admin: AdminOpt = None,
) -> None:
    """Put a user in a department."""
    with _session(gateway, issuer, admin) as gw:
        console.print(_users_table([add_member(gw, path, username)], title="Now"))


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="e.g. crm (the client id becomes svc-crm).")],
    department: Annotated[str | None, typer.Option(help="Its department, e.g. /dept/it.")] = None,
    gateway: GatewayOpt = None,
    issuer: IssuerOpt = None,
    admin: AdminOpt = None,
) -> None:
    """Create an integration client (client credentials, role staff); print its secret once."""
    with _session(gateway, issuer, admin) as gw:
        created = add_client(gw, name, department)
    table = Table("client id", "client secret", "token endpoint", title="API client")
    table.add_row(created["client_id"], created["client_secret"], created["token_url"])
    table.caption = "The secret is shown once: store it in the integration's secret store."
    console.print(table)


@clients_app.command("list")
def clients_list(
    gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """The integration clients."""
    with _session(gateway, issuer, admin) as gw:
        table = Table("client id", "name", "enabled", "departments", title="API clients")
        for client in list_clients(gw):
            enabled = "yes" if client["enabled"] else "[red]no[/red]"
            table.add_row(
                client["client_id"], client["name"], enabled, ", ".join(client["departments"])
            )
        console.print(table)


@clients_app.command("disable")
def clients_disable(
    client_id: str, gateway: GatewayOpt = None, issuer: IssuerOpt = None, admin: AdminOpt = None
) -> None:
    """Disable an integration client: it gets no new tokens."""
    with _session(gateway, issuer, admin) as gw:
        disable_client(gw, client_id)
    console.print(f"disabled {client_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(groups_app, name="groups")
    app.add_typer(clients_app, name="clients")
