"""status.yml's per-node rows (playbooks/templates/status/*.j2), rendered with Ansible's
templating from recorded task results: what `appliance status -i` tabulates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]
from ansible.template import Templar  # type: ignore[import-untyped]

TEMPLATES = Path(__file__).resolve().parents[3] / "playbooks" / "templates" / "status"


def _render(name: str, variables: dict[str, Any]) -> dict[str, Any]:
    templar = Templar(loader=DataLoader(), variables=variables)
    rows: dict[str, Any] = yaml.safe_load(templar.template((TEMPLATES / name).read_text()))
    return rows


UNITS = [
    "postgresql",
    "keycloak",
    "appliance-gateway",
    "appliance-webui",
    "nginx",
    "appliance-audit-archive.timer",
]


def _control(states: list[str], last_archive_run: str = "inactive") -> dict[str, Any]:
    """The control node's rows: unit states in UNITS' order, every health check answered
    but the gateway's (503) and the web UI's (none), and what ``systemctl is-failed`` said of
    the audit archive's service."""
    codes = {"keycloak": 200, "gateway": 503, "webui": None, "nginx": 200}
    return _render(
        "control.j2",
        {
            "__status_units": {
                "results": [{"item": u, "stdout": s} for u, s in zip(UNITS, states, strict=True)]
            },
            "__status_archive": {"stdout": last_archive_run},
            "__status_pg": {"rc": 0, "stdout": "127.0.0.1:5432 - accepting connections"},
            "__status_http_checks": {
                "results": [
                    {"item": {"key": k}, **({"status": c} if c else {})} for k, c in codes.items()
                ]
            },
            "__status_versions": {
                "stdout_lines": [
                    "appliance=0.1.0",
                    "postgresql=15.13",
                    "keycloak=26.7.3",
                    "nginx=1.22.1",
                ]
            },
        },
    )


def test_control_rows_from_states_checks_and_versions() -> None:
    rows = _control(["active", "active", "active", "failed", "active", "active"])
    assert set(rows) == {"postgresql", "keycloak", "gateway", "webui", "nginx", "audit-archive"}
    assert rows["postgresql"] == {
        "unit": "postgresql", "state": "active", "health": "healthy", "version": "15.13",
        "model": "",
    }  # fmt: skip
    assert rows["keycloak"]["version"] == "26.7.3"
    assert rows["gateway"]["health"] == "unhealthy (HTTP 503)"
    assert (rows["webui"]["state"], rows["webui"]["health"]) == ("failed", "no answer")
    assert rows["nginx"]["version"] == "1.22.1"
    assert rows["audit-archive"] == {
        "unit": "appliance-audit-archive.timer", "state": "active", "health": "healthy",
        "version": "0.1.0", "model": "",
    }  # fmt: skip


def test_a_failed_audit_archive_run_is_an_unhealthy_row() -> None:
    """The timer is still scheduled (active), the last run it started failed: the row says
    where to read why."""
    rows = _control(["active"] * 6, last_archive_run="failed")
    assert (rows["audit-archive"]["state"], rows["audit-archive"]["health"]) == (
        "active",
        "unhealthy (last run failed: journalctl -u appliance-audit-archive)",
    )
    # A timer that is not scheduled shows as such, whatever the last run did.
    rows = _control(["active"] * 5 + ["inactive"])
    assert (rows["audit-archive"]["state"], rows["audit-archive"]["health"]) == (
        "inactive",
        "healthy",
    )


def test_vllm_rows_one_per_replica() -> None:
    rows = _render(
        "vllm.j2",
        {
            "__status_vllm": {"stdout_lines": ["vllm-0.service active", "vllm-1.service failed"]},
            "__status_vllm_health": {"results": [{"status": 200}, {"status": -1}]},
            "__status_vllm_models": {
                "results": [
                    {"status": 200, "json": {"data": [{"id": "deepseek-r1"}]}},
                    {"status": -1},
                ]
            },
            "__status_vllm_version": {"stdout": "0.11.0\n"},
        },
    )
    assert rows == {
        "vllm-0": {"unit": "vllm-0.service", "state": "active", "health": "healthy",
                   "version": "0.11.0", "model": "deepseek-r1"},
        "vllm-1": {"unit": "vllm-1.service", "state": "failed", "health": "no answer",
                   "version": "0.11.0", "model": ""},
    }  # fmt: skip
