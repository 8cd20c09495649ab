"""``appliance up``, ``down`` and ``status``: the local all-in-one runtime."""

from __future__ import annotations

from typing import Annotated

import typer

from appliance.runtime import stack
from appliance.runtime.paths import RuntimePaths
from appliance.runtime.process import ServiceError


def _up(only: list[stack.Service]) -> None:
    paths = RuntimePaths.default()
    try:
        content = stack.up(paths, only, typer.echo)
    except ServiceError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    for line in stack.summary(paths, content):
        typer.echo(line)


def up(
    only: Annotated[
        list[stack.Service] | None,
        typer.Option("--only", help="Start just this service (repeatable)."),
    ] = None,
) -> None:
    """Start the local stack (PostgreSQL, Keycloak, vLLM, gateway) and write var/endpoints.json."""
    _up(only or [])


def down() -> None:
    """Stop the local stack, in reverse order."""
    stack.down(RuntimePaths.default(), typer.echo)


def status() -> None:
    """Show which local services answer; exits 1 if any does not."""
    states = stack.status(RuntimePaths.default())
    for service, running in states.items():
        state = "running" if running else "stopped"
        typer.echo(f"{service.value:10} {state:8} {stack.URLS[service]}")
    if not all(states.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the main app."""
    app.command()(up)
    app.command()(down)
    app.command()(status)
