"""Detached service processes: start in their own session, track by pid file, stop politely.

Each service runs in its own session (so a Ctrl-C in the shell that ran ``appliance up``
does not reach it, and stopping it signals its whole process group: vLLM and Keycloak both
spawn children). Its output goes to ``var/log/<service>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from appliance.errors import ApplianceError
from appliance.runtime.paths import RuntimePaths


class ServiceError(ApplianceError):
    """A local service could not be started, did not become ready, or could not be stopped."""


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def start_detached(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in a new session with stdout/stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_file.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the runtime, never from input
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n", encoding="ascii")
    return proc.pid


def stop_pid_file(pid_file: Path, *, timeout_s: float = 30.0) -> bool:
    """SIGTERM the service's process group, then SIGKILL it after ``timeout_s``.

    Returns whether something was running.
    """
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            break
        time.sleep(0.3)
    else:
        _signal_group(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(
        _pgid_of(entry.name) == pgid and not _is_zombie(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    )


def _pgid_of(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[2])


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether ``url`` answers 200 now: the readiness check every local service uses."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout_s: float,
    log_file: Path,
    pid_file: Path | None = None,
    interval_s: float = 1.0,
) -> None:
    """Poll ``ready`` until it returns True; fail naming the log if the time runs out or the
    process exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if ready():
            return
        if pid_file is not None and read_pid(pid_file) is None:
            raise ServiceError(f"{what} exited during start-up; see {log_file}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} was not ready after {timeout_s:.0f} s; see {log_file}")
        time.sleep(interval_s)


def launch(
    paths: RuntimePaths,
    service: str,
    argv: Sequence[str],
    *,
    what: str,
    ready: Callable[[], bool],
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    interval_s: float = 1.0,
) -> None:
    """Start ``service`` afresh and wait until ``ready``: the one way every local service is
    started. A leftover process of it (pid file of a run that was not stopped) is stopped
    first, so two never fight over one port; its output goes to ``var/log/<service>.log``."""
    pid_file = paths.pid(service)
    log_file = paths.log(service)
    stop_pid_file(pid_file)
    start_detached(argv, pid_file=pid_file, log_file=log_file, env=env, cwd=cwd)
    wait_until(
        ready,
        what=what,
        timeout_s=timeout_s,
        log_file=log_file,
        pid_file=pid_file,
        interval_s=interval_s,
    )
