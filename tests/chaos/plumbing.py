"""What the fault scenarios start and break: a scratch PostgreSQL cluster, a multi-worker
gateway, a restartable stub backend, and a bounded chat load that records every answer.

Everything binds 127.0.0.1 and lives under ``var/chaos/``; nothing here touches the shared
services of the running appliance (their PostgreSQL, Keycloak, vLLM or gateway), which other
work depends on. Faults are injected only into processes started here.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg import sql

from appliance.runtime.postgres_service import (
    DATABASE,
    GATEWAY_ROLE,
    OWNER_ROLE,
    PG_BIN,
    PG_HBA,
    PG_IDENT,
    SYSTEM_USER,
)
from tests.integration.gateway.gateway_support import (
    REPO,
    STUB,
    Process,
    free_port,
    wait_until,
)

CHAOS_VAR = REPO / "var" / "chaos"
SETTINGS_FILE = REPO / "var" / "appliance.env"
LOAD_USERS = ("zhang.wei", "wang.fang", "li.na")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 4)


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p99/max of a list of durations, as the report quotes them."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": round(max(values), 4) if values else None,
    }


def _as_postgres(argv: Sequence[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else list(argv)


def chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


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
            OWNER_ROLE: secrets.token_urlsafe(24),
            GATEWAY_ROLE: secrets.token_urlsafe(24),
        }
        base = f"127.0.0.1:{self.port}/{DATABASE}"
        self.gateway_url = (
            f"postgresql+psycopg://{GATEWAY_ROLE}:{self._passwords[GATEWAY_ROLE]}@{base}"
        )
        self.owner_url = f"postgresql+psycopg://{OWNER_ROLE}:{self._passwords[OWNER_ROLE]}@{base}"
        self.owner_dsn = self.owner_url.replace("postgresql+psycopg://", "postgresql://", 1)

    def _run(self, argv: Sequence[str], timeout_s: float = 120) -> None:
        result = subprocess.run(
            _as_postgres(argv), capture_output=True, text=True, check=False, timeout=timeout_s
        )
        if result.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {result.stderr.strip()} (see {self.log})")

    def create(self) -> ScratchPostgres:
        """initdb, start, roles, database, pgvector, grants and the migrations."""
        for path in (self.root, self.data, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            chown_to_postgres(path)
        # 1 MB WAL segments: a small volume is then filled by data, not by preallocated WAL.
        self._run([f"{PG_BIN}/initdb", "-D", str(self.data), "--username", SYSTEM_USER,
                   "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8",
                   "--locale=C.UTF-8", "--wal-segsize=1"])  # fmt: skip
        (self.data / "pg_hba.conf").write_text(PG_HBA, encoding="utf-8")
        (self.data / "pg_ident.conf").write_text(PG_IDENT, encoding="utf-8")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "shared_buffers = '32MB'\n"
                "max_connections = 200\n"
                "min_wal_size = '4MB'\n"
                "max_wal_size = '16MB'\n" + "".join(f"{line}\n" for line in self.settings)
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
            for role, secret in self._passwords.items():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(secret)
                    )
                )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                    sql.Identifier(DATABASE), sql.Identifier(OWNER_ROLE)
                )
            )
        with self._superuser(DATABASE) as conn:
            db, gateway = sql.Identifier(DATABASE), sql.Identifier(GATEWAY_ROLE)
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, gateway))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(gateway))

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
        """A connection as the schema owner (reads every audit row)."""
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


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class GatewayProcess(Process):
    """The gateway under uvicorn, as the runtime starts it (``--workers``), on its own port."""

    def __init__(self, settings_env: Mapping[str, str], *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"APPLIANCE_BACKEND_HEALTH_INTERVAL_S": "0.5", **settings_env}
        if SETTINGS_FILE.exists():
            env["APPLIANCE_SETTINGS_FILE"] = str(SETTINGS_FILE)
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "appliance.gateway.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        if workers > 1:
            argv += ["--workers", str(workers)]
        super().__init__(f"chaos-gateway-{self.port}", argv, env)
        self.workers = workers
        self.wait_ready()

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_until(
            lambda: not self.alive() or _answers(f"{self.url}/readyz"),
            f"gateway on {self.url}",
            timeout_s,
        )
        if not self.alive():
            raise AssertionError(f"gateway exited, see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """Pids of the serving processes (the supervisor's children, or the one process)."""
        if self.workers == 1:
            return [self.proc.pid]
        pids: list[int] = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children():
                with contextlib.suppress(psutil.Error):
                    if "spawn_main" in " ".join(child.cmdline()):
                        pids.append(child.pid)
        return pids


def gateway_env(database: ScratchPostgres, backends: Sequence[str], **extra: str) -> dict[str, str]:
    """Settings of a chaos gateway: the scratch database, these backends, roomy user limits."""
    return {
        "APPLIANCE_DATABASE_URL": database.gateway_url,
        "APPLIANCE_MIGRATION_DATABASE_URL": database.owner_url,
        "APPLIANCE_BACKENDS": ",".join(backends),
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "256",
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        **extra,
    }


class RestartableStub(Process):
    """The stub backend on a fixed port, so it can be killed and brought back at the same URL."""

    def __init__(self, model: str, *, port: int | None = None, **faults: Any) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = model
        self.faults = faults
        self._spawn()

    def _spawn(self) -> None:
        super().__init__(
            f"chaos-stub-{self.port}",
            [sys.executable, str(STUB), str(self.port), "--model", self.model],
        )
        wait_until(lambda: _answers(f"{self.url}/health"), f"stub on {self.url}", 30)
        if self.faults:
            self.control(**self.faults)

    def restart(self) -> None:
        self.stop()
        self._spawn()

    def control(self, **faults: Any) -> None:
        httpx.post(f"{self.url}/control", json=faults, timeout=5).raise_for_status()

    def chat_requests(self) -> int:
        response = httpx.get(f"{self.url}/stats", timeout=5)
        response.raise_for_status()
        return sum(v for k, v in response.json()["by_route"].items() if k.startswith("chat"))


@dataclass(slots=True)
class Answer:
    """What one client saw of one chat."""

    started: float
    stream: bool
    user: str
    status: int = 0
    request_id: str | None = None
    # Seconds until the status line (or the transport error) arrived, and until the end.
    to_status_s: float = 0.0
    elapsed_s: float = 0.0
    error_code: str | None = None
    # The refusal's body has OpenAI's shape: {"error": {"message": str, "type": str, ...}}.
    error_shaped: bool = False
    transport_error: str | None = None
    completed: bool = False
    # A stream ended with "data: [DONE]" (after an error event too).
    done: bool = False
    sse_error: str | None = None
    chunks: int = 0
    # Keycloak would not issue the user a token: the chat never left the client.
    token_refused: bool = False
    # What the stream delivered (reasoning, then content), and when its error event came.
    text: str = ""
    error_at: float | None = None


def _error(body: bytes) -> dict[str, Any]:
    try:
        parsed = httpx.Response(200, content=body).json()
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _error_code(body: bytes) -> str | None:
    code = _error(body).get("code")
    return str(code) if code is not None else None


def _delta_text(data: str) -> str:
    try:
        choices = httpx.Response(200, content=data.encode()).json().get("choices") or []
    except ValueError:
        return ""
    delta = choices[0].get("delta", {}) if choices else {}
    return str(delta.get("reasoning_content") or "") + str(delta.get("content") or "")


def openai_shaped(body: bytes) -> bool:
    """Whether an error body is what OpenAI clients parse: a message and a type, as text."""
    error = _error(body)
    return isinstance(error.get("message"), str) and isinstance(error.get("type"), str)


@dataclass
class ChatLoad:
    """A bounded closed-loop chat load: ``concurrency`` clients, each sending one chat after
    another (streaming or not, alternately) until ``stop()`` or ``duration_s``.

    Runs on its own thread with its own event loop, so a test drives faults while it runs.
    ``headers`` gives the Authorization header of a user (Keycloak tokens, cached).
    """

    url: str
    model: str
    headers: Callable[[str], dict[str, str]]
    concurrency: int = 8
    duration_s: float = 600.0
    timeout_s: float = 30.0
    users: Sequence[str] = LOAD_USERS
    pause_after_error_s: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _token_lock: threading.Lock = field(default_factory=threading.Lock)
    # What stopped the load early, if anything did (a test asserts it is None).
    failure: BaseException | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> ChatLoad:
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def halt(self) -> None:
        """Send no more chats; those in flight carry on (``stop()`` waits for them)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 10)
            self._thread = None

    def sent(self) -> list[Answer]:
        """Chats that reached the gateway (not those whose token Keycloak refused)."""
        return [a for a in list(self.answers) if not a.token_refused]

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.sent() if a.started >= moment]

    def token_failures(self) -> int:
        return sum(1 for a in list(self.answers) if a.token_refused)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as exc:  # whatever it is, the test reports it rather than hangs
            self.failure = exc

    def active_before(self, moment: float, window_s: float = 2.0) -> int:
        """Chats started in the ``window_s`` before ``moment``: proof the load was running."""
        return sum(1 for a in list(self.answers) if moment - window_s <= a.started < moment)

    def _headers(self, user: str) -> dict[str, str]:
        """One token request at a time (the cache is not thread-safe); one retry on failure."""
        with self._token_lock:
            try:
                return self.headers(user)
            except httpx.HTTPError:
                time.sleep(0.5)
                return self.headers(user)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=self.timeout_s, limits=limits) as client:
            deadline = time.monotonic() + self.duration_s
            await asyncio.gather(
                *(self._client(client, i, deadline) for i in range(self.concurrency))
            )

    async def _client(self, client: httpx.AsyncClient, index: int, deadline: float) -> None:
        turn = index
        while not self._stop.is_set() and time.monotonic() < deadline:
            user = self.users[turn % len(self.users)]
            answer = Answer(started=time.monotonic(), stream=turn % 2 == 0, user=user)
            self.answers.append(answer)
            try:
                headers = await asyncio.to_thread(self._headers, user)
            except httpx.HTTPError as exc:
                # Keycloak refused a token: counted, and the client tries again.
                answer.token_refused = True
                answer.transport_error = type(exc).__name__
                await asyncio.sleep(1.0)
                continue
            await self._chat(client, answer, headers)
            turn += 1
            if answer.status != 200:
                await asyncio.sleep(self.pause_after_error_s)

    async def _chat(
        self, client: httpx.AsyncClient, answer: Answer, headers: dict[str, str]
    ) -> None:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "stream": answer.stream,
        }
        try:
            async with client.stream(
                "POST", f"{self.url}/v1/chat/completions", json=body, headers=headers
            ) as response:
                answer.to_status_s = time.monotonic() - answer.started
                answer.status = response.status_code
                answer.request_id = response.headers.get("x-request-id")
                if response.status_code != 200 or not answer.stream:
                    content = await response.aread()
                    if response.status_code != 200:
                        answer.error_code = _error_code(content)
                        answer.error_shaped = openai_shaped(content)
                    answer.completed = response.status_code == 200
                else:
                    async for line in response.aiter_lines():
                        if not line.startswith("data: "):
                            continue
                        data = line[6:]
                        if data == "[DONE]":
                            answer.done = True
                            answer.completed = answer.sse_error is None
                        elif '"error"' in data:
                            answer.sse_error = _error_code(data.encode())
                            answer.error_at = time.monotonic()
                        else:
                            answer.chunks += 1
                            answer.text += _delta_text(data)
        except httpx.HTTPError as exc:
            if not answer.to_status_s:
                answer.to_status_s = time.monotonic() - answer.started
            answer.transport_error = type(exc).__name__
        answer.elapsed_s = time.monotonic() - answer.started


def kill_tree(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        for child in proc.children(recursive=True):
            child.kill()
        proc.kill()


class SwitchableProxy:
    """A TCP forwarder whose far side can be taken away and brought back.

    While "down" it still accepts connections and closes them at once, counting each: that
    is one attempt by the client to reach the service. While up it forwards, counting the
    requests whose bytes contain ``marker`` (the path of interest).
    """

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.target = ("127.0.0.1", target_port)
        self.marker = marker
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = True
        self.marked_requests = 0
        self.refused_attempts = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if not self.up:
                    self.refused_attempts += 1
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if outbound and self.marker in data:
                    with self._lock:
                        self.marked_requests += data.count(self.marker)
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def take_down(self) -> None:
        """Drop every forwarded connection; from now on connections are closed at once."""
        with self._lock:
            self.up = False
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def bring_back(self) -> None:
        with self._lock:
            self.up = True

    def close(self) -> None:
        self.take_down()
        self.listener.close()


@contextlib.contextmanager
def loop_filesystem(image: Path, mountpoint: Path, size_mb: int) -> Iterator[Path]:
    """A small ext4 filesystem in a sparse file, loop-mounted; always unmounted and removed.

    No blocks are reserved for root, so a filler file written by root can take the last
    byte that PostgreSQL (running as ``postgres``) would need.
    """
    image.parent.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as sparse:
        sparse.truncate(size_mb * 1024 * 1024)
    mounted = False
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
        mounted = True
        chown_to_postgres(mountpoint)
        yield mountpoint
    finally:
        if mounted:
            for _ in range(20):
                if subprocess.run(["umount", str(mountpoint)], check=False).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem has no byte left; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as filler:
        for block in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * block
            with contextlib.suppress(OSError):
                while True:
                    written += filler.write(chunk)
        with contextlib.suppress(OSError):
            os.fsync(filler.fileno())
    return written
