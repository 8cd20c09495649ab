"""Detached service processes, with a trivial child: started in their own session, found
through their pid file, stopped with their whole process group, and start-up failures that
name the log to read."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.runtime.paths import RuntimePaths
from appliance.runtime.process import (
    ServiceError,
    answers,
    launch,
    read_pid,
    start_detached,
    stop_pid_file,
    wait_until,
)

# Prints, starts a grandchild (in the same process group, as vLLM and Keycloak do), then
# sleeps: stopping the service must end both.
CHILD = """
import subprocess, sys, time
print("child up", flush=True)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
time.sleep(60)
"""


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    pid_file, log_file = tmp_path / "run" / "svc.pid", tmp_path / "log" / "svc.log"
    yield pid_file, log_file
    stop_pid_file(pid_file, timeout_s=5.0)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def test_a_service_runs_in_its_own_session_logs_and_stops_with_its_children(
    files: tuple[Path, Path],
) -> None:
    pid_file, log_file = files
    pid = start_detached([sys.executable, "-c", CHILD], pid_file=pid_file, log_file=log_file)

    assert read_pid(pid_file) == pid
    assert os.getsid(pid) == pid  # a Ctrl-C in the shell that started it never reaches it
    wait_until(
        lambda: (
            "child up" in log_file.read_text(encoding="utf-8") and len(_group_members(pid)) == 2
        ),
        what="child",
        timeout_s=20,
        log_file=log_file,
        pid_file=pid_file,
        interval_s=0.05,
    )

    assert stop_pid_file(pid_file, timeout_s=5.0) is True
    assert _group_members(pid) == []
    assert not pid_file.exists()
    assert stop_pid_file(pid_file) is False


def test_the_log_is_appended_to_and_the_environment_passed(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    pid_file, log_file = files
    log_file.parent.mkdir(parents=True)
    log_file.write_text("earlier run\n", encoding="utf-8")
    script = "import os; print(os.environ['SVC_GREETING'], os.getcwd())"
    start_detached(
        [sys.executable, "-c", script],
        pid_file=pid_file,
        log_file=log_file,
        env={"SVC_GREETING": "hello"},
        cwd=tmp_path,
    )
    wait_until(lambda: read_pid(pid_file) is None, what="child", timeout_s=20, log_file=log_file)
    assert log_file.read_text(encoding="utf-8") == f"earlier run\nhello {tmp_path}\n"


def test_a_stale_or_garbled_pid_file_means_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "svc.pid"
    assert read_pid(pid_file) is None
    pid_file.write_text("not a pid\n", encoding="ascii")
    assert read_pid(pid_file) is None
    pid_file.write_text(f"{2**22 + 1}\n", encoding="ascii")  # above Linux's pid_max
    assert read_pid(pid_file) is None
    assert stop_pid_file(pid_file) is False
    assert not pid_file.exists()


def test_a_service_that_exits_during_start_up_fails_naming_its_log(
    files: tuple[Path, Path],
) -> None:
    pid_file, log_file = files
    start_detached(
        [sys.executable, "-c", "raise SystemExit(3)"], pid_file=pid_file, log_file=log_file
    )
    with pytest.raises(ServiceError) as raised:
        wait_until(
            lambda: False,
            what="demo service",
            timeout_s=20,
            log_file=log_file,
            pid_file=pid_file,
            interval_s=0.05,
        )
    assert raised.value.message == f"demo service exited during start-up; see {log_file}"


def test_a_service_that_never_becomes_ready_times_out_naming_its_log(tmp_path: Path) -> None:
    log_file = tmp_path / "svc.log"
    with pytest.raises(ServiceError) as raised:
        wait_until(lambda: False, what="slow", timeout_s=0.1, log_file=log_file, interval_s=0.02)
    assert raised.value.message == f"slow was not ready after 0 s; see {log_file}"


def test_nothing_listening_does_not_answer() -> None:
    assert answers("http://127.0.0.1:9/healthz", timeout_s=0.5) is False


def test_launch_replaces_a_leftover_and_returns_once_ready(tmp_path: Path) -> None:
    paths = RuntimePaths(tmp_path)
    pid_file, log_file = paths.pid("svc"), paths.log("svc")

    def started() -> bool:
        return log_file.exists() and "child up" in log_file.read_text(encoding="utf-8")

    try:
        launch(paths, "svc", [sys.executable, "-c", CHILD], what="svc", ready=started, timeout_s=20)
        leftover = read_pid(pid_file)
        assert leftover is not None and started()
        log_file.unlink()
        launch(paths, "svc", [sys.executable, "-c", CHILD], what="svc", ready=started, timeout_s=20)
        current = read_pid(pid_file)
        assert current is not None and current != leftover
        assert _group_members(leftover) == []
        assert os.getsid(current) == current
    finally:
        stop_pid_file(pid_file, timeout_s=5.0)
    with pytest.raises(ServiceError, match=f"svc exited during start-up; see {log_file}"):
        launch(paths, "svc", [sys.executable, "-c", "raise SystemExit(3)"], what="svc",
               ready=lambda: False, timeout_s=20, interval_s=0.05)  # fmt: skip
