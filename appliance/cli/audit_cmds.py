"""``appliance audit verify`` and ``appliance audit keygen``.

Verify reads the live database (any role that may SELECT the audit tables) or a plain-SQL
``pg_dump`` file with no database at all, and exits 0 when the chain is intact, 1 with the
first broken position otherwise, so scripts and cron jobs can act on it. On a deployed
control node it needs no arguments: the database URL and the checkpoint key come from the
settings file the gateway role renders (``/etc/appliance/appliance.env``).

``--anchors FILE [FILE...]`` adds the checkpoints the writer sent out of the database (the
``audit_anchor`` node's append-only file, or a SIEM export of the same lines): each must be
signed by a trusted key and be in the database with the same head, and the chain must reach
the last of them (``appliance.audit.anchor``). ``--archive-dir DIR`` checks the signed
archives of rows that left the database too, and walks their rows before the live ones.

``appliance audit archive --archive-dir DIR`` moves the rows older than
``audit.retention_days`` into a signed archive there (``appliance.audit.retention``). It
connects as the migrations' login (``migration_database_url``, root's only), the one path
that may remove audit rows, and signs with the checkpoint key. The checkpoints it signs go to
the gateway's syslog anchor too; one the receiver did not take makes it exit 1 after the
archive line (the rows are archived, the timer's unit shows failed), naming the seqs.
On a deployed control node ``appliance-audit-archive.timer`` runs it (the gateway role).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from dotenv import dotenv_values
from pydantic import ValidationError

from appliance.audit.anchor import Anchor, read_anchors
from appliance.audit.archive import ArchiveError
from appliance.audit.checkpoint import generate_key, load_public_key, signer_from_file
from appliance.audit.retention import RetentionError, archive_expired
from appliance.audit.verify import VerifyReport
from appliance.audit.verify_db import libpq_url, verify_dump, verify_url
from appliance.settings import Settings, load_settings

audit_app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)

# The gateway's settings on a deployed node (playbooks/roles/gateway/templates/etc/appliance).
NODE_SETTINGS_FILE = Path("/etc/appliance/appliance.env")
# The migrations' login on a deployed node (root only): the path archiving removes rows by.
NODE_MIGRATE_FILE = Path("/etc/appliance/migrate.env")


def _settings(node_settings: Path = NODE_SETTINGS_FILE) -> Settings:
    """The settings verify falls back on: ``APPLIANCE_SETTINGS_FILE`` when set (the services
    and the local runtime), else the node's settings file when there is one (an admin's shell
    on the control node has no environment), else the defaults (the local runtime's)."""
    if os.environ.get("APPLIANCE_SETTINGS_FILE") or not node_settings.is_file():
        return load_settings()
    return Settings(_env_file=node_settings)


def _public_keys(files: list[Path], key_file_setting: str) -> list[Ed25519PublicKey]:
    if files:
        return [load_public_key(path) for path in files]
    if key_file_setting and Path(key_file_setting).exists():
        return [load_public_key(key_file_setting)]
    return []


def _report(report: VerifyReport, as_json: bool) -> None:
    if report.warning:
        typer.secho(f"WARNING: {report.warning}", fg=typer.colors.YELLOW, err=True)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    elif report.ok:
        typer.echo(
            f"audit chain intact: {report.count} events, head seq {report.head_seq}, "
            f"{report.checkpoints} checkpoints ({report.signed_checkpoints_verified} "
            "signatures verified)"
            + (f", {report.anchors_verified} anchors cross-checked" if report.anchors else "")
            + (
                f", rows up to {report.archived_through} archived"
                if report.archived_through
                else ""
            )
            + (f" ({report.archives} archive files verified)" if report.archives else "")
        )
    elif report.first_bad_seq is None:
        typer.secho(
            f"audit chain BROKEN: {report.reason} ({report.message})", fg=typer.colors.RED, err=True
        )
    else:
        typer.secho(
            f"audit chain BROKEN at seq {report.first_bad_seq}: {report.reason} ({report.message})",
            fg=typer.colors.RED,
            err=True,
        )


def _verify(
    *,
    database_url: str | None,
    dump: Path | None,
    public_keys: list[Path],
    node_settings: Path = NODE_SETTINGS_FILE,
    checkpoint_every: int | None = None,
    skip_signatures: bool = False,
    anchors: list[Anchor] | None = None,
    archive_dir: Path | None = None,
) -> VerifyReport:
    settings = _settings(node_settings)
    keys = _public_keys(public_keys, settings.audit.checkpoint_key_file)
    every = settings.audit.checkpoint_every if checkpoint_every is None else checkpoint_every
    if dump is not None:
        return verify_dump(
            dump,
            public_keys=keys,
            checkpoint_every=every,
            skip_signatures=skip_signatures,
            anchors=anchors or [],
            archive_dir=archive_dir,
        )
    url = database_url or settings.database_url.get_secret_value()
    return verify_url(
        url,
        public_keys=keys,
        checkpoint_every=every,
        skip_signatures=skip_signatures,
        anchors=anchors or [],
        archive_dir=archive_dir,
    )


def _anchors(files: list[Path]) -> list[Anchor] | None:
    """The anchor lines of ``files`` (None: no cross-check asked for); files with none at all
    cannot vouch for anything, so they are an error rather than a silent pass."""
    if not files:
        return None
    anchors = read_anchors(files)
    if not anchors:
        raise ValueError(f"no audit checkpoint anchors in {', '.join(map(str, files))}")
    return anchors


@audit_app.command()
def verify(
    *,
    database_url: Annotated[
        str | None, typer.Option(help="Database to verify; default: the settings' one.")
    ] = None,
    dump: Annotated[
        Path | None, typer.Option(help="Verify a plain-SQL pg_dump file instead, offline.")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(help="Trusted checkpoint public key (PEM); repeatable."),
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(help="The writer's audit.checkpoint_every; default: the settings' one."),
    ] = None,
    skip_signatures: Annotated[
        bool,
        typer.Option(
            "--skip-signatures",
            help="Accept unsigned checkpoints (development chains only); prints a warning.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    anchors: Annotated[
        list[Path] | None,
        typer.Option(
            help="File of checkpoint anchors received outside the database (the audit_anchor "
            "node's file); cross-checked against the database. Repeatable; more files may "
            "follow it."
        ),
    ] = None,
    more_anchors: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[FILE...]", help="More anchor files, after --anchors."),
    ] = None,
    archive_dir: Annotated[
        Path | None,
        typer.Option(help="Directory of the signed archives (appliance audit archive)."),
    ] = None,
) -> None:
    """Check every row's hash, the links between rows and the signed checkpoints.

    Every checkpoint must be signed by a trusted key, and one must exist every
    ``checkpoint_every`` rows up to the head; ``--skip-signatures`` waives the signatures only.
    With ``--anchors``, every anchored checkpoint must be in the database with the same head,
    and the chain must reach the last one.
    """
    if database_url is not None and dump is not None:
        raise typer.BadParameter("give --database-url or --dump, not both")
    if more_anchors and not anchors:
        raise typer.BadParameter("anchor files follow --anchors")
    try:
        read = _anchors([*(anchors or []), *(more_anchors or [])])
    except (OSError, ValueError) as exc:
        typer.secho(f"error: cannot read the anchors: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    try:
        report = _verify(
            anchors=read,
            database_url=database_url,
            dump=dump,
            public_keys=public_key or [],
            checkpoint_every=checkpoint_every,
            skip_signatures=skip_signatures,
            archive_dir=archive_dir,
        )
    except (OSError, ValueError, psycopg.Error) as exc:
        typer.secho(f"error: cannot read the audit log: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    _report(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


def _migration_url(settings: Settings, migrate_file: Path) -> str | None:
    """The settings' migration URL, else the node's ``migrate.env`` one (root's shell on the
    control node has neither in its environment)."""
    if settings.migration_database_url is not None:
        return settings.migration_database_url.get_secret_value()
    if migrate_file.is_file():
        return dotenv_values(migrate_file).get("APPLIANCE_MIGRATION_DATABASE_URL")
    return None


class UnanchoredError(RuntimeError):
    """The archive was made, but checkpoints it signed did not reach the syslog anchor."""

    def __init__(self, done: str, message: str) -> None:
        super().__init__(message)
        self.done = done


def _archive(
    *,
    archive_dir: Path,
    database_url: str | None,
    node_settings: Path,
    migrate_file: Path = NODE_MIGRATE_FILE,
) -> str:
    """Run one archive; the line to print. Raises RetentionError, ArchiveError, psycopg.Error,
    and UnanchoredError (with that line) when the anchor receiver did not take a checkpoint."""
    settings = _settings(node_settings)
    database_url = database_url or _migration_url(settings, migrate_file)
    if database_url is None:
        raise RetentionError(
            "no migration database URL (set APPLIANCE_MIGRATION_DATABASE_URL): only the "
            "migrations' login may remove audit rows"
        )
    run = archive_expired(
        libpq_url(database_url),
        archive_dir,
        settings.audit,
        signer=signer_from_file(settings.audit.checkpoint_key_file),
        operator=getpass.getuser(),
    )
    if run is None:
        return f"nothing older than {settings.audit.retention_days} days up to a checkpoint"
    m = run.manifest
    done = (
        f"archived rows {m.first_seq}..{m.last_seq} ({m.rows}) to {run.archive}, "
        f"sha256 {m.sha256}; recorded as audit event {run.event_seq}"
    )
    if run.unanchored:
        seqs = ", ".join(str(c.seq) for c in run.unanchored)
        raise UnanchoredError(
            done,
            f"checkpoints {seqs} not sent to the audit anchor {settings.audit.anchor_syslog} "
            "(they are in the database; see audit-retention.md)",
        )
    if settings.audit.anchor_syslog:
        done += f"; {len(run.checkpoints)} checkpoints sent to {settings.audit.anchor_syslog}"
    return done


@audit_app.command()
def archive(
    *,
    archive_dir: Annotated[
        Path, typer.Option(help="Directory of the signed archives (kept with the backups).")
    ],
    database_url: Annotated[
        str | None,
        typer.Option(help="Migrations' login URL; default: settings' migration_database_url."),
    ] = None,
) -> None:
    """Move the rows older than audit.retention_days, up to a checkpoint, into a signed
    archive file, then remove them from the database in one audited transaction."""
    try:
        typer.echo(
            _archive(
                archive_dir=archive_dir, database_url=database_url, node_settings=NODE_SETTINGS_FILE
            )
        )
    except UnanchoredError as exc:
        typer.echo(exc.done)
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    except (RetentionError, ArchiveError, ValidationError, OSError, psycopg.Error) as exc:
        typer.secho(f"error: nothing archived: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


@audit_app.command()
def keygen(
    path: Annotated[Path, typer.Argument(help="Private key file to create (mode 0600).")],
) -> None:
    """Create the Ed25519 key that signs audit checkpoints (public key written to PATH.pub)."""
    try:
        public = generate_key(path)
    except FileExistsError as exc:
        typer.secho(f"error: {path} exists; refusing to replace a signing key", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"private key {path}, public key {public}")


def register(app: typer.Typer) -> None:
    """Attach ``appliance audit ...`` to the main app."""
    app.add_typer(audit_app, name="audit")
