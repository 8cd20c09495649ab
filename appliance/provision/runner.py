"""Run one of the appliance's playbooks through ansible-runner.

Each run gets its own private data directory under ``var/deploy/runs/<timestamp>-<play>``;
ansible-runner writes the full Ansible output there (``stdout``) and its events, and we
point the operator at that file. The playbooks and roles come from the installed package's
source tree (``playbooks/`` next to ``appliance/``) unless ``APPLIANCE_PLAYBOOK_DIR`` says
otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import InvalidRequest
from appliance.provision.events import RunTracker

PLAYBOOKS = (
    "site",
    "preflight",
    "status",
    "add-gpu-node",
    "upgrade",
    "backup",
    "restore",
    "reset",
)


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def playbook_dir() -> Path:
    return Path(os.environ.get("APPLIANCE_PLAYBOOK_DIR", project_root() / "playbooks"))


def runs_dir() -> Path:
    return Path(os.environ.get("APPLIANCE_DEPLOY_RUNS", project_root() / "var" / "deploy" / "runs"))


@dataclass(frozen=True, slots=True)
class RunRequest:
    playbook: str
    inventory: Path
    extravars: Mapping[str, Any]
    limit: str | None = None
    tags: str | None = None
    vault_password_file: Path | None = None
    check: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    tracker: RunTracker
    status: str
    rc: int
    log_file: Path

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.tracker.succeeded


def _cmdline(request: RunRequest) -> str:
    parts: list[str] = []
    if request.vault_password_file is not None:
        parts.append(f"--vault-password-file={request.vault_password_file.resolve()}")
    if request.check:
        parts.append("--check")
    return " ".join(parts)


def run_playbook(
    request: RunRequest, on_event: Callable[[RunTracker], None] | None = None
) -> RunResult:
    """Run the playbook to its end; ``on_event`` sees the tracker after every event."""
    import ansible_runner  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy, real runs only

    if request.playbook not in PLAYBOOKS:
        raise InvalidRequest(f"unknown playbook {request.playbook!r}")
    playbook = playbook_dir() / f"{request.playbook}.yml"
    if not request.inventory.exists():
        raise InvalidRequest(f"inventory {request.inventory} does not exist")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    private = runs_dir() / f"{stamp}-{request.playbook}"
    private.mkdir(parents=True, exist_ok=True)
    tracker = RunTracker()

    def handler(event: dict[str, Any]) -> bool:
        tracker.handle(event)
        if on_event is not None:
            on_event(tracker)
        return True  # keep the event on disk too

    envvars = {
        "ANSIBLE_ROLES_PATH": str(playbook_dir() / "roles"),
        "ANSIBLE_CONFIG": str(playbook_dir() / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        # ansible-playbook lives next to our interpreter, which may not be on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(playbook),
        inventory=str(request.inventory.resolve()),
        extravars=dict(request.extravars),
        limit=request.limit,
        tags=request.tags,
        cmdline=_cmdline(request) or None,
        envvars=envvars,
        event_handler=handler,
        quiet=True,
        ident="run",
    )
    log_file = private / "artifacts" / "run" / "stdout"
    return RunResult(tracker, str(runner.status), int(runner.rc or 0), log_file)
