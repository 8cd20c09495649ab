"""Follow an ansible-runner event stream: what runs now, per-host counts, and what failed.

Pure: ``RunTracker.handle`` takes the event dictionaries ansible-runner passes to its
``event_handler`` (the same JSON it writes under ``artifacts/<ident>/job_events/``), so the
progress display and the failure report can be tested with recorded events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Events whose host result counts, and under which name.
_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass(frozen=True, slots=True)
class Failure:
    """One task that failed (or a host that could not be reached)."""

    host: str
    task: str
    message: str
    unreachable: bool = False

    def __str__(self) -> str:
        what = "unreachable" if self.unreachable else "failed"
        return f"{self.host}: {what} at task '{self.task}': {self.message}"


@dataclass(slots=True)
class HostCounts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


def _message(result: dict[str, Any]) -> str:
    """The most useful line of a failed task's result."""
    for key in ("msg", "stderr", "message", "reason"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, list) and value:
            return "; ".join(str(v) for v in value)
    results = result.get("results")
    if isinstance(results, list):
        for item in results:
            if isinstance(item, dict) and item.get("failed"):
                return _message(item)
    return "task failed (no message; see the log)"


@dataclass(slots=True)
class RunTracker:
    """Accumulates what an Ansible run did, event by event."""

    play: str = ""
    task: str = ""
    host: str = ""
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    stats_seen: bool = False
    # What the plays handed back with set_stats (aggregated over hosts): the preflight
    # report under "preflight_report", the status table under "appliance_status".
    artifacts: dict[str, Any] = field(default_factory=dict)

    def handle(self, event: dict[str, Any]) -> None:
        name = str(event.get("event", ""))
        data: dict[str, Any] = event.get("event_data") or {}
        if name == "playbook_on_play_start":
            self.play = str(data.get("play", ""))
        elif name == "playbook_on_task_start":
            self.task = str(data.get("task", ""))
        elif name == "runner_on_start":
            self.host = str(data.get("host", self.host))
            self.task = str(data.get("task", self.task))
        elif name in _RESULT_EVENTS:
            self._result(_RESULT_EVENTS[name], data)
        elif name == "playbook_on_stats":
            self._stats(data)

    def _result(self, kind: str, data: dict[str, Any]) -> None:
        host = str(data.get("host", ""))
        self.host = host
        counts = self.hosts.setdefault(host, HostCounts())
        result: dict[str, Any] = data.get("res") or {}
        if kind == "failed" and data.get("ignore_errors"):
            kind = "ok"
        if kind == "ok":
            counts.ok += 1
            if result.get("changed"):
                counts.changed += 1
        elif kind == "failed":
            counts.failed += 1
            self.failures.append(Failure(host, str(data.get("task", "")), _message(result)))
        elif kind == "unreachable":
            counts.unreachable += 1
            self.failures.append(
                Failure(host, str(data.get("task", "")), _message(result), unreachable=True)
            )
        else:
            counts.skipped += 1

    def _stats(self, data: dict[str, Any]) -> None:
        """The play recap is authoritative: take its numbers over our running count."""
        self.stats_seen = True
        self.artifacts = dict(data.get("artifact_data") or {})
        fields = {
            "ok": "ok",
            "changed": "changed",
            "failures": "failed",
            "dark": "unreachable",
            "skipped": "skipped",
        }
        for key, attr in fields.items():
            for host, value in (data.get(key) or {}).items():
                setattr(self.hosts.setdefault(host, HostCounts()), attr, int(value))

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.hosts.values():
            total.update(
                ok=counts.ok,
                changed=counts.changed,
                failed=counts.failed,
                unreachable=counts.unreachable,
                skipped=counts.skipped,
            )
        return total

    def progress_line(self) -> str:
        t = self.totals()
        where = f"{self.host or '-'} | {self.task or self.play or 'starting'}"
        return (
            f"{where}  ok={t['ok']} changed={t['changed']} failed={t['failed'] + t['unreachable']}"
        )

    @property
    def succeeded(self) -> bool:
        return not self.failures and all(
            c.failed == 0 and c.unreachable == 0 for c in self.hosts.values()
        )

    def summary_lines(self) -> list[str]:
        lines = []
        for host in sorted(self.hosts):
            c = self.hosts[host]
            lines.append(
                f"{host:24} ok={c.ok:<4} changed={c.changed:<4} failed={c.failed:<3} "
                f"unreachable={c.unreachable:<3} skipped={c.skipped}"
            )
        return lines
