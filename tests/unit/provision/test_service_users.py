"""Who runs as whom on a control node: the gateway, the web UI and the audit archive run each
as a user of its own that the common role creates, so a compromised web UI cannot read the
gateway's environment (database password) or ptrace it, and neither can read the archive
run's (the migrations' login). The roles' units and the owners restore.yml gives back the
restored files, rendered and read from the playbooks as they ship."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
ROLES = PLAYBOOKS / "roles"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
UNIT_DIR = Path("templates", "etc", "systemd", "system")
# role -> the unit of the control node's appliance processes.
UNITS = {
    "gateway": "appliance-gateway.service",
    "webui": "appliance-webui.service",
    "archive": "appliance-audit-archive.service",
}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _render(role: str, unit: str, **overrides: str) -> list[str]:
    variables = {
        **_yaml(ROLES / "shared" / "defaults" / "main.yml"),
        **_yaml(ROLES / "gateway" / "defaults" / "main.yml"),
        **_yaml(ROLES / "webui" / "defaults" / "main.yml"),
        "ansible_managed": "rendered by tests/unit/provision",
        **overrides,
    }
    source = (ROLES / role / UNIT_DIR / f"{unit}.j2").read_text()
    text = jinja2.Template(source, undefined=jinja2.StrictUndefined).render(variables)
    return [line for line in text.splitlines() if line and not line.startswith(("#", "["))]


def _unit(name: str) -> list[str]:
    role = "gateway" if name != "webui" else "webui"
    return _render(role, UNITS[name])


def _values(directives: list[str], key: str) -> list[str]:
    return [d.split("=", 1)[1] for d in directives if d.split("=", 1)[0] == key]


def _tasks(path: Path) -> dict[str, dict[str, Any]]:
    """A tasks file's tasks by name, each the arguments of its one module."""
    tasks: dict[str, dict[str, Any]] = {}
    for task in _yaml(path):
        for block in task.get("block", [task]):
            module = next(k for k in block if k.startswith("ansible.builtin."))
            tasks[block["name"]] = {**block[module], "loop": block.get("loop")}
    return tasks


def test_each_appliance_process_runs_as_its_own_user_which_the_common_role_creates() -> None:
    users = _yaml(ROLES / "common" / "defaults" / "main.yml")["common_service_users"]
    owners = {name: (_values(_unit(name), "User"), _values(_unit(name), "Group")) for name in UNITS}
    assert owners == {
        "gateway": (["appliance"], ["appliance"]),
        "webui": (["appliance-webui"], ["appliance-webui"]),
        "archive": (["appliance-archive"], ["appliance-archive"]),
    }
    assert {"appliance", "appliance-webui", "appliance-archive"} <= set(users)
    assert users["appliance-webui"] == "/var/lib/appliance-webui"
    # Only the archive run joins the gateway's group (settings file, checkpoint key); the
    # web UI is in no group that reads the gateway's settings.
    assert _values(_unit("archive"), "SupplementaryGroups") == ["appliance"]
    assert _values(_unit("webui"), "SupplementaryGroups") == []


def test_the_web_ui_gets_its_client_secret_from_systemd_and_none_of_the_gateways_files() -> None:
    webui = _unit("webui")
    assert _values(webui, "LoadCredential") == [
        "webui-client-secret:/etc/appliance/webui-client-secret"
    ]
    assert "Environment=APPLIANCE_WEBUI_CLIENT_SECRET_FILE=%d/webui-client-secret" in webui
    # The settings file would override the unit's Environment= (systemd.exec): it must not
    # name the secret's file.
    settings = (ROLES / "webui" / "templates" / "etc" / "appliance" / "webui.env.j2").read_text()
    assert "APPLIANCE_WEBUI_CLIENT_SECRET_FILE=" not in settings
    hidden = " ".join(_values(webui, "InaccessiblePaths")).split()
    assert hidden == [
        "-/etc/appliance/appliance.env",
        "-/etc/appliance/migrate.env",
        "-/etc/appliance/audit-checkpoint.pem",
    ]
    assert _values(webui, "ReadWritePaths") == ["/var/lib/appliance-webui"]


def test_the_web_ui_role_gives_its_files_to_its_own_user() -> None:
    configure = _tasks(ROLES / "webui" / "tasks" / "configure.yml")
    for name in ("Write the web UI's client secret", "Render the web UI's settings"):
        task = configure[name]
        assert (task["owner"], task["group"], task["mode"]) == ("root", "appliance-webui", "0640")
    install = list(_tasks(ROLES / "webui" / "tasks" / "install.yml").values())
    assert all(t["path"] == "/var/lib/appliance-webui" for t in install)
    assert all((t["owner"], t["group"]) == ("appliance-webui",) * 2 for t in install)
    # An upgraded site's session key, made by the gateway's user, changes hands too.
    assert [t.get("recurse") for t in install] == [None, True]
    assert install[0]["mode"] == "0700"


def test_restore_gives_back_the_owners_the_roles_give() -> None:
    """A backup keeps the owners of the release that made it; restore.yml gives the archive
    directory (recursively) and the configuration files those the roles give now."""
    gateway = _tasks(ROLES / "gateway" / "tasks" / "configure.yml")
    webui = _tasks(ROLES / "webui" / "tasks" / "configure.yml")
    [play] = [p for p in _yaml(PLAYBOOKS / "restore.yml") if p["hosts"] == "control"][:1]
    restore = {t["name"]: t for t in play["tasks"]}
    owned = ("owner", "group", "mode")

    def ownership(task: dict[str, Any]) -> list[str]:
        return [task[k] for k in owned]

    archives = gateway["Create the directory of the signed audit archives"]
    assert ownership(archives) == ["appliance-archive", "appliance-archive", "0700"]
    directory = restore["Give the audit archive directory its owner and mode"]
    assert ownership(directory["ansible.builtin.file"]) == ownership(archives)
    inside = restore["Give the restored audit archives to the archive run's user"]
    assert inside["ansible.builtin.file"]["recurse"] is True
    assert inside["ansible.builtin.file"]["owner"] == "appliance-archive"

    roles_give = {
        "audit-checkpoint.pem": gateway[
            "Let the gateway and the archive run read the checkpoint key"
        ],
        "webui.env": webui["Render the web UI's settings"],
        "webui-client-secret": webui["Write the web UI's client secret"],
    }
    given = restore["Give the restored configuration this release's owners and modes"]["loop"]
    assert {item["name"]: ownership(item) for item in given} == {
        name: ownership(task) for name, task in roles_give.items()
    }


def test_the_archive_directory_default_is_outside_the_gateways_state_directory() -> None:
    directory = _yaml(ROLES / "shared" / "defaults" / "main.yml")["gateway_audit_archive_dir"]
    assert not (directory + "/").startswith("/var/lib/appliance/")
    assert "StateDirectory=appliance" in _unit("gateway")
    assert _values(_unit("archive"), "ReadWritePaths") == [directory]


def test_systemd_reads_the_web_ui_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` with the interpreter of this checkout's virtualenv."""
    venv = str(Path(sys.executable).parent.parent)
    unit = tmp_path / UNITS["webui"]
    source = (ROLES / "webui" / UNIT_DIR / f"{UNITS['webui']}.j2").read_text()
    unit.write_text(
        jinja2.Template(source, undefined=jinja2.StrictUndefined).render(
            ansible_managed="rendered by tests/unit/provision", webui_venv=venv
        )
    )
    verified = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr
