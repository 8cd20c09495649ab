"""``appliance keys find-leaked FILE...|DIR|-``: look for personal API keys where they
should not be (a repository, a ticket export, a log directory).

Directories are searched recursively and ``-`` reads standard input. Each key found prints
as ``path:line: <prefix>``: the key's public prefix, which its owner and the security
administrator can match to a key in ``GET /api/keys`` or the audit log, never the key.
Exits 0 when none is found, 1 when one is, 2 when a path could not be read (the others are
still searched, and the unreadable ones named on standard error).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO, TextIO

import typer

from appliance.apikeys.leaks import CHUNK_BYTES, files_under, scan_stream

keys_app = typer.Typer(help="Personal API keys.", no_args_is_help=True)

STDIN = "-"
NONE_FOUND, FOUND, UNREADABLE = 0, 1, 2


def _scan(name: str, stream: BinaryIO, out: TextIO, chunk_bytes: int) -> bool:
    found = False
    for finding in scan_stream(stream, chunk_bytes=chunk_bytes):
        print(f"{name}:{finding.line}: {finding.prefix}", file=out)
        found = True
    return found


def find_leaked(
    targets: list[str],
    *,
    stdin: BinaryIO,
    out: TextIO,
    err: TextIO,
    chunk_bytes: int = CHUNK_BYTES,
) -> int:
    """Search ``targets``, print each finding to ``out`` and return the exit status."""
    found = False
    unreadable: list[OSError] = []

    def report(exc: OSError) -> None:
        print(f"{exc.filename}: {exc.strerror or exc}", file=err)
        unreadable.append(exc)

    for target in targets:
        if target == STDIN:
            found = _scan(STDIN, stdin, out, chunk_bytes) or found
            continue
        for path in files_under(Path(target), report):
            try:
                with path.open("rb") as stream:
                    found = _scan(str(path), stream, out, chunk_bytes) or found
            except OSError as exc:
                report(exc)
    if unreadable:
        return UNREADABLE
    return FOUND if found else NONE_FOUND


@keys_app.command("find-leaked")
def find_leaked_cmd(
    targets: Annotated[
        list[str], typer.Argument(metavar="FILE...|DIR|-", help="Files, directories or -.")
    ],
) -> None:
    """Print path:line: prefix for each API key found; exit 1 if any, 2 on an unreadable path."""
    status = find_leaked(targets, stdin=sys.stdin.buffer, out=sys.stdout, err=sys.stderr)
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
