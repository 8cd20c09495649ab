"""Read a site's inventory on the controller the way Ansible will: groups, each host's
variables from ``group_vars``/``host_vars`` (the vault decrypted with the password file),
extra variables on top.

The site checks need the values the roles will see, so this uses Ansible's own inventory
and variable loading rather than a YAML reader of our own (which would miss host_vars,
inline ``!vault`` values and precedence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Site:
    """What the checks read: each host's variables (rendered) and the groups' members."""

    hosts: dict[str, dict[str, Any]]
    groups: dict[str, list[str]] = field(default_factory=dict)

    def members(self, group: str) -> list[str]:
        return self.groups.get(group, [])


def _render(templar: Any, value: Any) -> Any:
    """A variable's value with its Jinja rendered; left as written if it cannot be."""
    from ansible.errors import AnsibleError  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        return templar.template(value)
    except AnsibleError:
        return value


# What Ansible never reads as inventory in a directory: the variable folders (read as
# variables), artifacts/ (the CA and backup dumps; ``inventory_ignore_patterns`` in
# playbooks/ansible.cfg) and its default ignored names.
_NOT_INVENTORY = {"group_vars", "host_vars", "artifacts"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig",
                     ".ini", ".cfg", ".retry")  # fmt: skip


def inventory_sources(inventory: Path) -> list[str]:
    """The inventory sources as the playbook run reads them: a file as is; a directory's
    entries less what the run's configuration ignores. Passed explicitly because the ignore
    pattern lives in the run's ansible.cfg, which an in-process read would not see."""
    if not inventory.is_dir():
        return [str(inventory.resolve())]
    return [
        str(entry.resolve())
        for entry in sorted(inventory.iterdir())
        if entry.name not in _NOT_INVENTORY
        and not entry.name.startswith(".")
        and not entry.name.endswith(_IGNORED_SUFFIXES)
    ]


def load_site(
    inventory: Path,
    vault_password_file: Path | None = None,
    extravars: Mapping[str, Any] | None = None,
    *,
    names: tuple[str, ...] | None = None,
) -> Site:
    """The inventory's hosts and groups; each host's variables with the vault decrypted.

    ``names`` limits the rendered variables to those the checks read (rendering every
    variable would fail on ones that need facts, e.g. ``ansible_facts``). Raises
    InvalidRequest when the inventory or the vault cannot be read.
    """
    # Ansible is heavy to import; only the commands that read an inventory pay for it.
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.inventory.manager import InventoryManager  # type: ignore[import-untyped]  # noqa: PLC0415
    from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]  # noqa: PLC0415
    from ansible.parsing.vault import get_file_vault_secret  # type: ignore[import-untyped]  # noqa: PLC0415
    from ansible.template import Templar  # type: ignore[import-untyped]  # noqa: PLC0415
    from ansible.vars.manager import VariableManager  # type: ignore[import-untyped]  # noqa: PLC0415

    if not inventory.exists():
        raise InvalidRequest(f"inventory {inventory} does not exist")
    loader = DataLoader()
    try:
        if vault_password_file is not None:
            secret = get_file_vault_secret(filename=str(vault_password_file), loader=loader)
            secret.load()
            loader.set_vault_secrets([("default", secret)])
        manager = InventoryManager(loader=loader, sources=inventory_sources(inventory))
        variables = VariableManager(loader=loader, inventory=manager)
        if extravars:
            variables._extra_vars = dict(extravars)  # the CLI's -e, as Ansible applies them
        hosts: dict[str, dict[str, Any]] = {}
        for host in manager.get_hosts():
            found = variables.get_vars(host=host, include_hostvars=False)
            templar = Templar(loader=loader, variables=found)
            wanted = names if names is not None else tuple(found)
            hosts[host.name] = {n: _render(templar, found[n]) for n in wanted if n in found}
            hosts[host.name]["inventory_hostname"] = host.name
        groups = {g.name: [h.name for h in g.get_hosts()] for g in manager.groups.values()}
    except AnsibleError as exc:
        text = " ".join(str(exc.message).split())
        hint = "" if vault_password_file else " (an encrypted vault needs --vault-password-file)"
        raise InvalidRequest(f"cannot read the inventory {inventory}: {text}{hint}") from exc
    return Site(hosts, groups)
