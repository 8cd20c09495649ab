"""GPU facts from an Ansible inventory, so `appliance plan --inventory` sizes the real site.

The convention (the `vllm` group is the GPU nodes the `vllm` role deploys to)::

    inventory/site/hosts.yml           # all.children.vllm.hosts: gpu1, gpu2, ...
    inventory/site/group_vars/vllm.yml # vllm_gpus: "8xH20"   GPUs in each node
                                       # vllm_nodes: 2        optional; else the host count

``group_vars/vllm/*.yml`` and ``group_vars/all(.yml|/*.yml)`` are read too (``vllm``
wins). INI inventories (``hosts`` or ``hosts.ini`` with a ``[vllm]`` section) count hosts
the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from appliance.errors import InvalidRequest
from appliance.sizing.gpus import parse_gpus
from appliance.sizing.planner import Inventory

GROUP = "vllm"
_HOSTS_FILES = ("hosts.yml", "hosts.yaml", "hosts.ini", "hosts")


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _group_vars(root: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for group in ("all", GROUP):
        base = root / "group_vars"
        files = [base / f"{group}.yml", base / f"{group}.yaml"]
        if (base / group).is_dir():
            files += sorted((base / group).glob("*.y*ml"))
        for file in files:
            if file.is_file():
                merged.update(_load_yaml(file))
    return merged


def _find_group(node: dict[str, Any]) -> dict[str, Any] | None:
    """The `vllm` group anywhere under a YAML inventory's children."""
    for name, group in node.items():
        if not isinstance(group, dict):
            continue
        if name == GROUP:
            return group
        found = _find_group(group.get("children") or {})
        if found is not None:
            return found
    return None


def _count_hosts(hosts_file: Path) -> int:
    if hosts_file.suffix in (".yml", ".yaml"):
        group = _find_group(_load_yaml(hosts_file))
        return len((group or {}).get("hosts") or {})
    count, inside = 0, False
    for raw in hosts_file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            inside = line == f"[{GROUP}]"
        elif line and inside:
            count += 1
    return count


def read_inventory(path: Path) -> Inventory:
    """The GPU inventory of the site whose Ansible inventory is at ``path`` (a directory,
    or its hosts file)."""
    root = path if path.is_dir() else path.parent
    hosts_file = (
        path
        if path.is_file()
        else next((root / name for name in _HOSTS_FILES if (root / name).is_file()), None)
    )
    variables = _group_vars(root)
    if "vllm_gpus" not in variables:
        raise InvalidRequest(
            f'{root / "group_vars"} sets no vllm_gpus (e.g. vllm_gpus: "8xH20" in vllm.yml)'
        )
    count, gpu = parse_gpus(str(variables["vllm_gpus"]))
    nodes = int(variables.get("vllm_nodes") or 0)
    if not nodes and hosts_file is not None:
        nodes = _count_hosts(hosts_file)
    return Inventory(gpu, count, max(nodes, 1))
