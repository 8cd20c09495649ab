"""``appliance db upgrade``: run the schema migrations before the gateway starts."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from appliance.db import migrate
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
        typer.Option(help="Owner role URL; default: settings' migration_database_url."),
    ] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the Alembic migrations (as the schema owner role)."""
    _upgrade(database_url, revision)


def register(app: typer.Typer) -> None:
    """Attach ``appliance db ...`` to the main app."""
    app.add_typer(db_app, name="db")
