"""``appliance db upgrade``: run the schema migrations before the gateway starts;
``appliance db grants``: the roles and grants of :mod:`appliance.db.roles` as a psql script,
for the postgresql role and restore.yml to run as the superuser."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from appliance.db import migrate, roles
from appliance.settings import load_settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _upgrade(url: str | None, revision: str) -> None:
    if url is None:
        configured = load_settings().migration_database_url
        if configured is None:
            typer.secho(
                "error: no migration database URL (set APPLIANCE_MIGRATION_DATABASE_URL)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1)
        url = configured.get_secret_value()
    try:
        migrate.upgrade(url, revision)
    except SQLAlchemyError as exc:
        typer.secho(f"error: migration failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"database schema at {revision}")


@db_app.command()
def upgrade(
    database_url: Annotated[
        str | None,
        typer.Option(help="Migrations' login URL; default: settings' migration_database_url."),
    ] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the Alembic migrations (as the migrations' login, acting as the owner role)."""
    _upgrade(database_url, revision)


@db_app.command()
def grants(  # noqa: PLR0917 - Typer maps each option to a parameter
    part: Annotated[
        str, typer.Argument(help="cluster (roles, before the database exists) or database.")
    ],
    database: Annotated[str, typer.Option(help="The appliance's database.")] = "appliance",
    owner: Annotated[str, typer.Option(help="NOLOGIN owner role.")] = roles.OWNER,
    migrator: Annotated[str, typer.Option(help="Migrations' login.")] = roles.MIGRATOR,
    gateway: Annotated[str, typer.Option(help="Gateway's login.")] = roles.GATEWAY,
    backup: Annotated[str, typer.Option(help="Dumps' login.")] = roles.BACKUP,
) -> None:
    """Print the roles' SQL (psql -qtA): a state line before and after, which differ when
    something changed."""
    try:
        names = roles.RoleNames(owner=owner, migrator=migrator, gateway=gateway, backup=backup)
        if part == "cluster":
            statements = roles.cluster_sql(names)
        elif part == "database":
            statements = roles.database_sql(database, names)
        else:
            raise ValueError(f"part must be cluster or database, not {part!r}")
        state = roles.state_query(database, names)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(roles.script([state, *statements, state]), nl=False)


def register(app: typer.Typer) -> None:
    """Attach ``appliance db ...`` to the main app."""
    app.add_typer(db_app, name="db")
