"""The private PostgreSQL 15 cluster of the local runtime (``var/pg/data``).

Loopback only: TCP on 127.0.0.1:55432 with scram-sha-256 for the application roles, and the
superuser ``postgres`` only over the unix socket in ``var/pg/run`` (peer authentication, with
root mapped to it so ``appliance up`` run as root can bootstrap). PostgreSQL refuses to run
as root, so the server runs as the Debian ``postgres`` system user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from appliance.db import roles
from appliance.runtime.paths import RuntimePaths
from appliance.runtime.process import ServiceError
from appliance.runtime.secrets import password

PG_BIN = "/usr/lib/postgresql/15/bin"
HOST = "127.0.0.1"
PORT = 55432
DATABASE = "appliance"
SYSTEM_USER = "postgres"

PG_HBA = """\
# Written by the appliance's local runtime. Anything not matched here is rejected.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer map=superuser
host    all       postgres  127.0.0.1/32   reject
host    all       all       127.0.0.1/32   scram-sha-256
"""

PG_IDENT = """\
# MAPNAME   SYSTEM-USERNAME  PG-USERNAME
superuser   postgres         postgres
superuser   root             postgres
"""


@dataclass(frozen=True, slots=True)
class DatabaseUrls:
    """SQLAlchemy URLs (psycopg 3 driver) of the runtime's two logins: the gateway's and
    the migrations' (``owner``: its sessions act as the NOLOGIN owner role)."""

    gateway: str
    owner: str


def as_postgres(argv: Sequence[str]) -> list[str]:
    """Run a server binary as the ``postgres`` system user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SYSTEM_USER, "--", *argv]
    return list(argv)


def _run(argv: Sequence[str], *, what: str, log_hint: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - fixed argv built here
        as_postgres(argv),
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"{what} failed: {result.stderr.strip()} (see {log_hint})")
    return result


def chown_to_postgres(*paths: os.PathLike[str]) -> None:
    if os.geteuid() == 0:
        for path in paths:
            shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


def initdb_argv(data: Path, *extra: str) -> list[str]:
    """initdb of an appliance cluster: peer for the superuser's socket, scram over TCP."""
    return [
        f"{PG_BIN}/initdb",
        "-D",
        str(data),
        "--username",
        SYSTEM_USER,
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        *extra,
    ]


def write_config(data: Path, conf: str) -> None:
    """Our pg_hba.conf and pg_ident.conf in place of initdb's; ``conf`` appended to
    postgresql.conf. The runtime's cluster and the tests' scratch clusters both use it, so
    a scratch cluster admits exactly whom the appliance's does."""
    (data / "pg_hba.conf").write_text(PG_HBA, encoding="utf-8")
    (data / "pg_ident.conf").write_text(PG_IDENT, encoding="utf-8")
    with (data / "postgresql.conf").open("a", encoding="utf-8") as postgresql_conf:
        postgresql_conf.write(conf)
    chown_to_postgres(data / "pg_hba.conf", data / "pg_ident.conf", data / "postgresql.conf")


def is_running(paths: RuntimePaths) -> bool:
    if not (paths.pg_data / "PG_VERSION").exists():
        return False
    result = subprocess.run(  # noqa: S603 - fixed argv
        [f"{PG_BIN}/pg_isready", "-h", str(paths.pg_socket_dir), "-p", str(PORT), "-q"],
        check=False,
    )
    return result.returncode == 0


def _init_cluster(paths: RuntimePaths) -> None:
    """initdb with scram, then our own pg_hba/pg_ident and loopback-only settings."""
    pg_root = paths.pg_data.parent
    pg_root.mkdir(parents=True, exist_ok=True)
    paths.pg_data.mkdir(mode=0o700, exist_ok=True)
    chown_to_postgres(pg_root, paths.pg_data)
    _run(initdb_argv(paths.pg_data), what="initdb", log_hint=str(paths.log("postgres")))
    write_config(
        paths.pg_data,
        "\n# Local runtime of the appliance: loopback only.\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {PORT}\n"
        f"unix_socket_directories = '{paths.pg_socket_dir}'\n"
        "unix_socket_permissions = 0700\n"
        "password_encryption = 'scram-sha-256'\n",
    )


def start(paths: RuntimePaths) -> bool:
    """Initialise the cluster if needed and start it; returns whether it was started now."""
    if is_running(paths):
        return False
    if not (paths.pg_data / "PG_VERSION").exists():
        _init_cluster(paths)
    paths.pg_socket_dir.mkdir(parents=True, exist_ok=True)
    log_file = paths.log("postgres")
    log_file.touch()
    chown_to_postgres(paths.pg_socket_dir, log_file)
    _run(
        [
            f"{PG_BIN}/pg_ctl",
            "start",
            "-D",
            str(paths.pg_data),
            "-l",
            str(log_file),
            "-w",
            "-t",
            "60",
        ],
        what="PostgreSQL start",
        log_hint=str(log_file),
    )
    return True


def stop(paths: RuntimePaths) -> bool:
    """Fast shutdown (active sessions are rolled back); returns whether it was running."""
    if not is_running(paths):
        return False
    _run(
        [f"{PG_BIN}/pg_ctl", "stop", "-D", str(paths.pg_data), "-m", "fast", "-w", "-t", "60"],
        what="PostgreSQL stop",
        log_hint=str(paths.log("postgres")),
    )
    return True


def _superuser(paths: RuntimePaths, dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=str(paths.pg_socket_dir),
        port=PORT,
        user=SYSTEM_USER,
        dbname=dbname,
        autocommit=True,
    )


def provision(paths: RuntimePaths) -> DatabaseUrls:
    """Roles, database, pgvector and grants as :mod:`appliance.db.roles` declares them; safe
    to run on every start.

    The NOLOGIN owner role owns the database (and so the public schema); the migrations run
    as the migrator login, whose sessions act as the owner; the gateway role may connect and
    use the schema but create nothing. What the gateway may do on each table is decided by
    the migrations. Only the two logins the runtime uses get passwords.
    """
    with _superuser(paths, "postgres") as conn:
        for statement in roles.cluster_sql():
            conn.execute(statement)
        for role, secret in (
            (roles.MIGRATOR, password(paths.secret("pg_owner_password"))),
            (roles.GATEWAY, password(paths.secret("pg_gateway_password"))),
        ):
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(secret)
                )
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                    sql.Identifier(DATABASE), sql.Identifier(roles.OWNER)
                )
            )
    with _superuser(paths, DATABASE) as conn:
        for statement in roles.database_sql(DATABASE):
            conn.execute(statement)
    return database_urls(paths)


def database_urls(paths: RuntimePaths) -> DatabaseUrls:
    owner_pw = password(paths.secret("pg_owner_password"))
    gateway_pw = password(paths.secret("pg_gateway_password"))
    base = f"{HOST}:{PORT}/{DATABASE}"
    return DatabaseUrls(
        gateway=f"postgresql+psycopg://{roles.GATEWAY}:{gateway_pw}@{base}",
        owner=f"postgresql+psycopg://{roles.MIGRATOR}:{owner_pw}@{base}",
    )
