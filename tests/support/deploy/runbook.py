"""A site made the way ops/runbooks/install.md tells the admin: copy an example inventory,
edit it, fill and encrypt the vault.

The shell steps are the runbook's own: fenced blocks whose info string names a step
(```` ```sh site-copy ````) are run here as written, with ``$EXAMPLE`` and ``$SITE`` set as the
runbook has the admin set them, ``HOME`` a controller home under ``var/deploy/`` (so
``~/.appliance-vault-pass`` is a test file, not the real root's) and the venv's ``bin`` first
on ``PATH`` (where ``appliance`` and ``ansible-vault`` come from). Where the runbook says
"edit" (hosts.yml, the variables of group_vars/), ``edit_site`` changes the value in the file
that defines it, as an admin's editor would, and appends what the example lacks; what a test
sets there is its site's data (node addresses, SSH key, sizing), never a step of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path

import yaml

from tests.support.deploy import bundle, deployed, nodes

RUNBOOK = nodes.ROOT / "ops" / "runbooks" / "install.md"
EXAMPLES = nodes.ROOT / "inventory"
# The controller's home for the runbook's ``~``: the vault password lives here.
CONTROLLER_HOME = nodes.WORK / "controller"
VAULT_PASSWORD = CONTROLLER_HOME / ".appliance-vault-pass"
# The runbook's steps, in the order the admin runs them.
STEPS = ("site-copy", "site-vault", "site-encrypt")
_FENCE = re.compile(r"^```sh (?P<step>[a-z-]+)\n(?P<body>.*?)^```$", re.M | re.S)
# Two sites are made at once (the cluster's deploys beside the online install): the vault
# step creates the controller's one vault password when it is missing, which two runs at
# the same moment would each do with their own.
_MAKING = threading.Lock()


def step(name: str) -> str:
    """The shell text of the runbook's block tagged ``name`` (exactly one)."""
    found = [m["body"] for m in _FENCE.finditer(RUNBOOK.read_text()) if m["step"] == name]
    assert len(found) == 1, f"{RUNBOOK} has {len(found)} blocks tagged {name!r}"
    return found[0]


def run_step(name: str, example: str, site: Path) -> subprocess.CompletedProcess[str]:
    """Run the runbook's block ``name`` from the repository root, as the admin would."""
    CONTROLLER_HOME.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "HOME": str(CONTROLLER_HOME),
        "PATH": f"{nodes.ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "EXAMPLE": f"inventory/{example}",
        "SITE": str(site),
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step(name)],
        cwd=nodes.ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"runbook step {name}: {result.stdout}{result.stderr}"
    return result


def _defining_file(site: Path, name: str) -> Path:
    """The group_vars file of the copied example that sets ``name``; all/main.yml if none."""
    pattern = re.compile(rf"^#?[ \t]*{re.escape(name)}:", re.M)
    for path in sorted((site / "group_vars").rglob("*.yml")):
        if path.name != "vault.yml" and pattern.search(path.read_text()):
            return path
    return site / "group_vars" / "all" / "main.yml"


def set_variable(path: Path, name: str, value: object) -> None:
    """``name: value`` in ``path``: the line that sets it (or its commented example) is
    replaced, comments and other lines stay; appended when the file has none."""
    line = f"{name}: {json.dumps(value)}"  # JSON is YAML, and keeps every value on one line
    text = path.read_text()
    pattern = re.compile(rf"^#?[ \t]*{re.escape(name)}:.*$", re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: line, text, count=1)
    else:
        text = text.rstrip("\n") + f"\n{line}\n"
    path.write_text(text)


def edit_site(site: Path, hosts: dict[str, list[nodes.Node]], variables: dict[str, object]) -> None:
    """The runbook's edits: the nodes in hosts.yml (each with ``ansible_host``), and each
    variable in the group_vars file that defines it."""
    hosts_file = site / "hosts.yml"
    lines = hosts_file.read_text().splitlines(keepends=True)
    comments = "".join(line for line in lines if line.startswith(("#", "---")))
    tree = yaml.safe_load(hosts_file.read_text())
    for group, members in hosts.items():
        tree["all"]["children"][group]["hosts"] = {
            node.name: {"ansible_host": node.address} for node in members
        }
    hosts_file.write_text(comments + yaml.safe_dump(tree, sort_keys=False))
    edit_variables(site, variables)


def edit_variables(site: Path, variables: dict[str, object]) -> None:
    """Each variable changed in the group_vars file that sets it (a value in vllm.yml or
    control.yml wins over all/main.yml, so that is where an admin edits it)."""
    for name, value in variables.items():
        set_variable(_defining_file(site, name), name, value)


def read_vault(site: Path) -> dict[str, str]:
    """The encrypted vault's secrets, read back with ``ansible-vault view``."""
    view = subprocess.run(
        [str(nodes.ROOT / ".venv" / "bin" / "ansible-vault"), "view",
         f"--vault-password-file={VAULT_PASSWORD}", str(site / "group_vars" / "all" / "vault.yml")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {k: str(v) for k, v in yaml.safe_load(view.stdout).items()}


def site_settings(ssh_key: Path, control: nodes.Node) -> dict[str, object]:
    """What every test site sets in its copy of an example, beyond the hosts: the runbook's
    site-specific edits, then what only test nodes need."""
    return {
        # The runbook's edits: the key the nodes accept, the name users type, preflight
        # floors for the small test model, no GPUs (vLLM's CPU build), the bundle's model.
        "ansible_ssh_private_key_file": str(ssh_key),
        "appliance_public_hostname": deployed.HOSTNAME,
        "appliance_min_memory_gb": 2,
        "appliance_min_disk_gb": 5,
        "vllm_gpus": "",
        "vllm_model_name": bundle.MODEL_NAME,
        "vllm_served_model_name": bundle.MODEL_NAME,
        # Test nodes only. Every run boots nodes with new host keys, at addresses earlier
        # runs used: no known_hosts entry to check against.
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        # Containers: the host owns the clock and the kernel settings.
        "common_time_sync": False,
        "common_manage_sysctl": False,
        # The tests reach nginx by address as well as by name.
        "nginx_tls_extra_sans": [f"IP:{control.address}"],
    }


def make_site(
    example: str,
    site: Path,
    hosts: dict[str, list[nodes.Node]],
    variables: dict[str, object],
    vault: dict[str, str] | None = None,
) -> dict[str, str]:
    """Copy ``inventory/<example>`` to ``site`` and follow the runbook to an encrypted vault;
    ``vault`` holds the secrets a site is given rather than generates (the directory's bind
    password). Returns the vault's secrets."""
    import shutil  # noqa: PLC0415

    shutil.rmtree(site, ignore_errors=True)
    site.parent.mkdir(parents=True, exist_ok=True)
    vault_file = site / "group_vars" / "all" / "vault.yml"
    with _MAKING:
        run_step("site-copy", example, site)
        edit_site(site, hosts, variables)
        run_step("site-vault", example, site)
        for name, value in (vault or {}).items():
            set_variable(vault_file, name, value)
        run_step("site-encrypt", example, site)
    assert vault_file.read_text().startswith("$ANSIBLE_VAULT;"), "the vault is not encrypted"
    return read_vault(site)
