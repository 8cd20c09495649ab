"""A throwaway PostgreSQL 15 cluster that a fault scenario may stop, freeze or starve.

Configured like the runtime's own cluster, on its own port under ``var/chaos/``; nothing
here touches the shared services of the running appliance, which other work depends on.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from appliance.db import roles
from appliance.runtime.postgres_service import (
    DATABASE,
    PG_BIN,
    SYSTEM_USER,
    as_postgres,
    chown_to_postgres,
    initdb_argv,
    write_config,
)
from tests.support.paths import REPO
from tests.support.postgres.databases import create_database
from tests.support.process import free_port

CHAOS_VAR = REPO / "var" / "chaos"


class ScratchPostgres:
    """A throwaway PostgreSQL 15 cluster with the appliance's roles, grants and schema.

    Configured like the runtime's own cluster (``appliance/runtime/postgres_service.py``: loopback,
    scram for the application roles, peer for the superuser over its socket), on its own
    port, so it can be stopped, frozen or starved of disk without harming anything else.
    """

    def __init__(
        self, root: Path, *, data: Path | None = None, settings: Sequence[str] = ()
    ) -> None:
        self.root = root
        self.settings = settings
        self.data = data or root / "data"
        self.socket_dir = root / "run"
        self.log = root / "postgres.log"
        self.port = free_port()
        self._passwords = {
            roles.MIGRATOR: secrets.token_urlsafe(24),
            roles.GATEWAY: secrets.token_urlsafe(24),
        }
        base = f"127.0.0.1:{self.port}/{DATABASE}"
        self.gateway_url = (
            f"postgresql+psycopg://{roles.GATEWAY}:{self._passwords[roles.GATEWAY]}@{base}"
        )
        # The migrations' login; its sessions act as the NOLOGIN owner role.
        migrator = self._passwords[roles.MIGRATOR]
        self.owner_url = f"postgresql+psycopg://{roles.MIGRATOR}:{migrator}@{base}"
        self.owner_dsn = self.owner_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def _run(self, argv: Sequence[str], timeout_s: float = 120) -> None:
        result = subprocess.run(
            as_postgres(argv), capture_output=True, text=True, check=False, timeout=timeout_s
        )
        if result.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {result.stderr.strip()} (see {self.log})")

    def create(self) -> ScratchPostgres:
        """initdb, start, roles, database, pgvector, grants and the migrations."""
        for path in (self.root, self.data, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            chown_to_postgres(path)
        # 1 MB WAL segments: a small volume is then filled by data, not by preallocated WAL.
        self._run(initdb_argv(self.data, "--wal-segsize=1"))
        write_config(
            self.data,
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "password_encryption = 'scram-sha-256'\n"
            "shared_buffers = '32MB'\n"
            "max_connections = 200\n"
            "min_wal_size = '4MB'\n"
            "max_wal_size = '16MB'\n" + "".join(f"{line}\n" for line in self.settings),
        )
        self.start()
        self._provision()
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "appliance"), "db", "upgrade",
             "--database-url", self.owner_url],
            capture_output=True, text=True, check=False, timeout=300, cwd=REPO,
        )  # fmt: skip
        if migrate.returncode != 0:
            raise AssertionError(f"migrations failed: {migrate.stdout}{migrate.stderr}")
        return self

    def _superuser(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SYSTEM_USER, dbname=dbname,
            autocommit=True,
        )  # fmt: skip

    def _provision(self) -> None:
        with self._superuser("postgres") as conn:
            for statement in roles.cluster_sql():
                conn.execute(statement)
            for role, secret in self._passwords.items():
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(secret)
                    )
                )
        create_database(self._superuser, DATABASE)

    def start(self) -> None:
        self.log.touch()
        chown_to_postgres(self.log)
        self._run([f"{PG_BIN}/pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                   "-w", "-t", "60"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run([f"{PG_BIN}/pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and self.postmaster() is not None

    def postmaster(self) -> psutil.Process | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            return psutil.Process(pid)
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    def _tree(self) -> list[psutil.Process]:
        postmaster = self.postmaster()
        if postmaster is None:
            return []
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: the database hangs, sockets stay open."""
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)

    def connect(self) -> psycopg.Connection[Any]:
        """A connection as the migrations' login, acting as the schema owner (reads every
        audit row)."""
        return psycopg.connect(self.owner_dsn, connect_timeout=5, autocommit=True)

    def halt(self) -> None:
        """Stop the cluster, whatever its state (frozen, crashed, running)."""
        self.thaw()
        if self.running():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                proc.kill()

    def destroy(self) -> None:
        """Stop the cluster and remove its files."""
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def scratch_postgres(name: str) -> ScratchPostgres:
    """A new cluster under ``var/chaos/pg-<name>-<random>``; call ``create()`` on it."""
    return ScratchPostgres(CHAOS_VAR / f"pg-{name}-{secrets.token_hex(3)}")


@contextlib.contextmanager
def scratch_cluster(name: str) -> Iterator[ScratchPostgres]:
    cluster = scratch_postgres(name)
    try:
        yield cluster.create()
    finally:
        cluster.destroy()
