"""``appliance label verify FILE``: read a file's GB 45438 labels back and judge them.

Prints the format, each AIGC field and every problem found, and exits 0 when the file
carries both labels and its ``ReservedCode1`` and ``ReservedCode2`` match its content, 1
when a label is missing, malformed, or made for other content (edited after export, or
copied from another file), so a script can act on it. ``--json`` prints the same as one
object. The file is only read: nothing is sent anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from appliance.labels.files import verify as verify_file

label_app = typer.Typer(help="GB 45438-2025 labels on exported files.", no_args_is_help=True)


@label_app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check FILE's explicit label and AIGC metadata; exit 1 unless both are there and match."""
    verdict = verify_file(file.name, file.read_bytes())
    if as_json:
        report = {
            "ok": verdict.ok,
            "format": verdict.fmt,
            "fields": verdict.fields,
            "problems": verdict.problems,
        }
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{file}: {verdict.fmt}")
        for name, value in verdict.fields.items():
            typer.echo(f"  {name}: {value}")
        for problem in verdict.problems:
            typer.echo(f"  problem: {problem}")
        typer.echo("label ok" if verdict.ok else "label NOT valid")
    if not verdict.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
