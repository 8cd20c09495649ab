"""What ``appliance status -i`` and the preflight commands print after their playbook.

The playbooks hand their findings back with ``set_stats`` (``RunTracker.artifacts``):
``status.yml`` one row per node and service under ``appliance_status``, the preflight role
each node's report lines under ``preflight_report``. Rendering them here, from plain data,
keeps the terminal output readable (no Ansible log framing, no colour codes) and testable
without nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.table import Table

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
# Order of the control node's services in the table (vLLM replicas follow, by name).
_ORDER = ("postgresql", "keycloak", "gateway", "webui", "nginx", "audit-archive")


def plain(text: str) -> str:
    """``text`` without terminal escape sequences (colours, hyperlinks)."""
    return _ANSI.sub("", text)


def preflight_lines(artifacts: dict[str, Any]) -> list[str]:
    """Every node's preflight report, node by node, as plain lines."""
    reports: dict[str, Any] = artifacts.get("preflight_report") or {}
    lines: list[str] = []
    for host in sorted(reports):
        lines.append(f"preflight report for {host}:")
        lines += [f"  {plain(str(line))}" for line in reports[host] or []]
    return lines


@dataclass(frozen=True, slots=True)
class ServiceRow:
    node: str
    service: str
    state: str
    health: str
    version: str
    model: str

    @property
    def healthy(self) -> bool:
        return self.state == "active" and self.health == "healthy"


def _rank(service: str) -> tuple[int, str]:
    return (_ORDER.index(service) if service in _ORDER else len(_ORDER), service)


def service_rows(artifacts: dict[str, Any]) -> list[ServiceRow]:
    """The status table's rows, node by node, control services first."""
    status: dict[str, Any] = artifacts.get("appliance_status") or {}
    rows = []
    for node in sorted(status):
        services: dict[str, Any] = status[node] or {}
        for service in sorted(services, key=_rank):
            facts: dict[str, Any] = services[service] or {}
            rows.append(
                ServiceRow(
                    node=node,
                    service=service,
                    state=str(facts.get("state") or "unknown"),
                    health=str(facts.get("health") or "unknown"),
                    version=str(facts.get("version") or "-"),
                    model=str(facts.get("model") or "-"),
                )
            )
    return rows


def summary(rows: list[ServiceRow]) -> str:
    """``5 of 5 services healthy on 2 nodes``."""
    nodes = len({row.node for row in rows})
    healthy = sum(row.healthy for row in rows)
    return f"{healthy} of {len(rows)} services healthy on {nodes} node{'s' if nodes != 1 else ''}"


def status_table(rows: list[ServiceRow]) -> Table:
    """One line per node and service."""
    table = Table("node", "service", "state", "health", "version", "model", box=None)
    for row in rows:
        table.add_row(row.node, row.service, row.state, row.health, row.version, row.model)
    return table
