"""What ``appliance status -i`` and the preflight commands print from a run's set_stats:
the status table with its summary line, and every node's preflight report in plain text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console

from appliance.cli import deploy_cmds
from appliance.cli.site_status import plain, preflight_lines, service_rows, status_table, summary
from appliance.provision.events import RunTracker
from appliance.provision.runner import RunResult


def _service(state: str = "active", health: str = "healthy", **more: str) -> dict[str, str]:
    return {"state": state, "health": health, "version": "0.1.0", "model": "", **more}


def _artifacts(gpu_health: str = "healthy") -> dict[str, Any]:
    """The aggregated set_stats of status.yml on a control node and a GPU node."""
    return {
        "appliance_status": {
            "gpu1": {"vllm-0": _service(health=gpu_health, model="deepseek-r1")},
            "control1": {
                "nginx": _service(version="1.22.1"),
                "gateway": _service(),
                "postgresql": _service(version="15.13"),
                "webui": _service(),
                "keycloak": _service(version="26.7.3"),
            },
        }
    }


def _render(artifacts: dict[str, Any]) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(status_table(service_rows(artifacts)))
    return console.export_text()


def test_table_lists_every_node_and_service_in_order() -> None:
    rows = service_rows(_artifacts())
    assert [(r.node, r.service) for r in rows] == [
        ("control1", "postgresql"), ("control1", "keycloak"), ("control1", "gateway"),
        ("control1", "webui"), ("control1", "nginx"), ("gpu1", "vllm-0"),
    ]  # fmt: skip
    text = _render(_artifacts())
    assert "node" in text and "health" in text and "version" in text and "model" in text
    vllm_line = next(line for line in text.splitlines() if "vllm-0" in line)
    assert vllm_line.split() == ["gpu1", "vllm-0", "active", "healthy", "0.1.0", "deepseek-r1"]


def test_summary_counts_healthy_services_and_nodes() -> None:
    assert summary(service_rows(_artifacts())) == "6 of 6 services healthy on 2 nodes"
    unhealthy = service_rows(_artifacts(gpu_health="no answer"))
    assert summary(unhealthy) == "5 of 6 services healthy on 2 nodes"


def test_a_service_that_is_not_active_is_not_healthy() -> None:
    artifacts = {"appliance_status": {"n1": {"nginx": _service(state="failed")}}}
    assert summary(service_rows(artifacts)) == "0 of 1 services healthy on 1 node"


def test_preflight_report_is_printed_per_node_without_colour_codes() -> None:
    artifacts = {"preflight_report": {"gpu1": ["\x1b[0;32mOS        Debian 12.11 ok\x1b[0m"],
                                      "control1": ["memory    64.0 GiB (need 32)"]}}  # fmt: skip
    assert preflight_lines(artifacts) == [
        "preflight report for control1:",
        "  memory    64.0 GiB (need 32)",
        "preflight report for gpu1:",
        "  OS        Debian 12.11 ok",
    ]
    assert plain("\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\") == "link"


def _result(artifacts: dict[str, Any], tmp_path: Path) -> RunResult:
    tracker = RunTracker()
    tracker.handle({"event": "playbook_on_stats", "event_data": {"artifact_data": artifacts}})
    return RunResult(tracker, "successful", 0, tmp_path / "stdout")


def test_status_command_prints_the_table_and_exits_by_health(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_cmds.report_status(_result(_artifacts(), tmp_path))
    out = capsys.readouterr()
    assert "6 of 6 services healthy on 2 nodes" in out.out
    assert "status: done" in out.err
    with pytest.raises(typer.Exit) as down:
        deploy_cmds.report_status(_result(_artifacts(gpu_health="no answer"), tmp_path))
    assert down.value.exit_code == 1
    assert "5 of 6 services healthy" in capsys.readouterr().out
