"""The gateway role's audit archive units, rendered with the roles' defaults: the timer runs
``appliance audit archive`` monthly by default and catches up a missed run, as a user of its
own (never the gateway's or the web UI's, who could otherwise read the migrations' login
from its environment) with that login handed over by systemd, writing only the archive
directory that backup.yml packs, outside the gateway's state directory; systemd itself reads
them without a complaint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import yaml

ROLES = Path(__file__).resolve().parents[3] / "playbooks" / "roles"
UNITS = ROLES / "gateway" / "templates" / "etc" / "systemd" / "system"
SERVICE = "appliance-audit-archive.service"
TIMER = "appliance-audit-archive.timer"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _defaults(role: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    return loaded


def _render(name: str, **overrides: str) -> str:
    variables = {
        "ansible_managed": "rendered by tests/unit/provision",
        "gateway_venv": _defaults("gateway")["gateway_venv"],
        "gateway_audit_archive_schedule": _defaults("gateway")["gateway_audit_archive_schedule"],
        "gateway_audit_archive_dir": _defaults("shared")["gateway_audit_archive_dir"],
        **overrides,
    }
    template = jinja2.Template((UNITS / f"{name}.j2").read_text(), undefined=jinja2.StrictUndefined)
    return template.render(variables)


def _service_users() -> dict[str, str]:
    users: dict[str, str] = _defaults("common")["common_service_users"]  # type: ignore[assignment]
    return users


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(("#", "["))]


def test_the_timer_runs_monthly_and_catches_up_a_missed_run() -> None:
    timer = _directives(_render(TIMER))
    assert "OnCalendar=monthly" in timer
    assert "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    assert "OnCalendar=*-*-01 03:00:00" in _directives(
        _render(TIMER, gateway_audit_archive_schedule="*-*-01 03:00:00")
    )


def _values(directives: list[str], key: str) -> list[str]:
    return [d.split("=", 1)[1] for d in directives if d.split("=", 1)[0] == key]


def test_the_service_archives_as_its_own_user_into_the_backed_up_directory() -> None:
    service = _directives(_render(SERVICE))
    directory = _defaults("shared")["gateway_audit_archive_dir"]
    assert directory == "/var/lib/appliance-audit-archive"
    assert "Type=oneshot" in service
    # A user and group no other unit runs as, created on every node by the common role.
    assert (_values(service, "User"), _values(service, "Group")) == (
        ["appliance-archive"],
        ["appliance-archive"],
    )
    assert "appliance-archive" in _service_users()
    # The gateway's group only to read the settings file and the checkpoint key.
    assert _values(service, "SupplementaryGroups") == ["appliance"]
    # No home of the gateway's: systemd sets the user's own.
    assert not [d for d in service if d.startswith("Environment=HOME=")]
    # The migrations' login comes from the root-only file, read by systemd before the switch.
    assert "EnvironmentFile=/etc/appliance/migrate.env" in service
    assert "Environment=APPLIANCE_SETTINGS_FILE=/etc/appliance/appliance.env" in service
    assert (
        f"ExecStart=/opt/appliance/venv/bin/appliance audit archive --archive-dir {directory}"
        in service
    )
    # Everything read-only but the archives.
    assert "ProtectSystem=strict" in service
    assert [d for d in service if d.startswith("ReadWritePaths=")] == [
        f"ReadWritePaths={directory}"
    ]
    assert "CapabilityBoundingSet=" in service


def test_systemd_reads_both_units_and_the_default_schedule(tmp_path: Path) -> None:
    """``systemd-analyze verify`` with the ExecStart of this checkout's own ``appliance``."""
    venv = str(Path(sys.executable).parent.parent)
    for name in (SERVICE, TIMER):
        (tmp_path / name).write_text(
            _render(name, gateway_venv=venv, gateway_audit_archive_dir=str(tmp_path))
        )
    verified = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(tmp_path / TIMER), str(tmp_path / SERVICE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr
    schedule = str(_defaults("gateway")["gateway_audit_archive_schedule"])
    calendar = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", schedule], capture_output=True, text=True, check=False
    )
    assert calendar.returncode == 0, calendar.stderr
    assert "Normalized form: *-*-01 00:00:00" in calendar.stdout
