"""The progress/summary/failure logic over events recorded from a real ansible-runner run
(one ok, one changed, one skipped and one failed task on one host)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from appliance.cli.deploy_cmds import report
from appliance.provision.events import RunTracker
from appliance.provision.runner import RunResult

EVENTS = json.loads((Path(__file__).parent / "data" / "failed-preflight-events.json").read_text())


def _replay(events: list[dict]) -> tuple[RunTracker, list[str]]:
    tracker, lines = RunTracker(), []
    for event in events:
        tracker.handle(event)
        lines.append(tracker.progress_line())
    return tracker, lines


def test_counts_match_the_play_recap() -> None:
    tracker, _ = _replay(EVENTS)
    counts = tracker.hosts["node1"]
    assert (counts.ok, counts.changed, counts.failed, counts.skipped) == (2, 1, 1, 1)
    assert tracker.stats_seen
    assert not tracker.succeeded


def test_failure_names_host_task_and_message() -> None:
    tracker, _ = _replay(EVENTS)
    [failure] = tracker.failures
    assert failure.host == "node1"
    assert failure.task == "Check memory"
    assert "need at least 64 GiB" in failure.message
    assert str(failure).startswith("node1: failed at task 'Check memory': memory is 2.0 GiB")


def test_progress_line_follows_host_and_task() -> None:
    _, lines = _replay(EVENTS)
    assert any(line.startswith("node1 | Change something") for line in lines)
    assert lines[-1].endswith("ok=2 changed=1 failed=1")


def test_running_counts_without_recap() -> None:
    """A run cut short (no playbook_on_stats) still reports what it saw."""
    tracker, _ = _replay([e for e in EVENTS if e["event"] != "playbook_on_stats"])
    counts = tracker.hosts["node1"]
    assert (counts.ok, counts.changed, counts.failed, counts.skipped) == (2, 1, 1, 1)


def test_ignored_errors_are_not_failures() -> None:
    event = {
        "event": "runner_on_failed",
        "event_data": {"host": "h", "task": "t", "ignore_errors": True, "res": {"msg": "x"}},
    }
    tracker = RunTracker()
    tracker.handle(event)
    assert tracker.succeeded
    assert tracker.hosts["h"].ok == 1


def test_unreachable_host_is_reported() -> None:
    tracker = RunTracker()
    tracker.handle(
        {
            "event": "runner_on_unreachable",
            "event_data": {
                "host": "gpu2",
                "task": "Gathering Facts",
                "res": {"msg": "ssh: timeout"},
            },
        }
    )
    assert str(tracker.failures[0]) == "gpu2: unreachable at task 'Gathering Facts': ssh: timeout"


def test_item_loop_failure_message() -> None:
    tracker = RunTracker()
    tracker.handle(
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "c1",
                "task": "Dump each database",
                "res": {"results": [{"failed": False}, {"failed": True, "stderr": "disk full"}]},
            },
        }
    )
    assert tracker.failures[0].message == "disk full"


def test_report_exits_non_zero_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracker, _ = _replay(EVENTS)
    log = tmp_path / "stdout"
    with pytest.raises(typer.Exit) as exited:
        report(RunResult(tracker, "failed", 2, log), "preflight")
    assert exited.value.exit_code == 1
    err = capsys.readouterr().err
    assert "Check memory" in err
    assert str(log) in err.replace("\n", "")


def test_report_succeeds_quietly(tmp_path: Path) -> None:
    tracker, _ = _replay([e for e in EVENTS if e["event"] not in ("runner_on_failed",)][:-1])
    report(RunResult(tracker, "successful", 0, tmp_path / "stdout"), "deploy")
