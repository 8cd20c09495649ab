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


def test_control_rows_from_states_checks_and_versions() -> None:
    units = ["postgresql", "keycloak", "appliance-gateway", "appliance-webui", "nginx"]
    states = ["active", "active", "active", "failed", "active"]
    codes = {"keycloak": 200, "gateway": 503, "webui": None, "nginx": 200}
    rows = _render(
        "control.j2",
        {
            "__status_units": {
                "results": [{"item": u, "stdout": s} for u, s in zip(units, states, strict=True)]
            },
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
    assert set(rows) == {"postgresql", "keycloak", "gateway", "webui", "nginx"}
    assert rows["postgresql"] == {
        "unit": "postgresql", "state": "active", "health": "healthy", "version": "15.13",
        "model": "",
    }  # fmt: skip
    assert rows["keycloak"]["version"] == "26.7.3"
    assert rows["gateway"]["health"] == "unhealthy (HTTP 503)"
    assert (rows["webui"]["state"], rows["webui"]["health"]) == ("failed", "no answer")
    assert rows["nginx"]["version"] == "1.22.1"


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
