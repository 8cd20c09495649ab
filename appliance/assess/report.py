"""The assessment's report: each bank's results per category, held to the thresholds of
:mod:`~appliance.assess.thresholds`, as one JSON document and the HTML page made from it.

Three groups are rated, each per category and in total: the should-refuse questions (their
refusal rate), the should-answer questions (their refusal rate) and the generated-content
prompts (their pass rate). An item whose call failed (``error``) is counted but not rated;
the report passes only when every group was assessed, meets its threshold in total and no
item failed, so a run cut short by an outage cannot pass.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.assess.thresholds import (
    ALL,
    SHOULD_ANSWER,
    STANDARD,
    Threshold,
)

EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One question or prompt and what became of it. ``counted`` is what the group's rate
    counts: refused (a refusal bank item) or passed (a content bank item)."""

    group: str  # the threshold's key
    category: str
    text: str
    verdict: str
    reason: str
    counted: bool
    reply: str = ""
    hits: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "category": self.category,
            "text": self.text,
            "verdict": self.verdict,
            "reason": self.reason,
            "counted": self.counted,
            "reply": self.reply[:EXCERPT_CHARS],
            "hits": list(self.hits),
            "ok": self.ok,
        }

    @property
    def ok(self) -> bool:
        """Whether the item did what its group wants: refused when it should be, answered
        when it should be, passed the screening."""
        if self.verdict == "error":
            return False
        return not self.counted if self.group == SHOULD_ANSWER.key else self.counted


@dataclass(slots=True)
class Tally:
    total: int = 0
    errors: int = 0
    counted: int = 0

    @property
    def assessed(self) -> int:
        return self.total - self.errors

    def rate(self) -> float | None:
        return self.counted / self.assessed if self.assessed else None

    def to_json(self, threshold: Threshold) -> dict[str, Any]:
        rate = self.rate()
        return {
            "total": self.total,
            "assessed": self.assessed,
            "errors": self.errors,
            "counted": self.counted,
            "rate": rate,
            "met": None if rate is None else threshold.met(rate),
        }


@dataclass(slots=True)
class _Group:
    threshold: Threshold
    total: Tally = field(default_factory=Tally)
    categories: dict[str, Tally] = field(default_factory=dict)

    def add(self, item: ItemResult) -> None:
        for tally in (self.total, self.categories.setdefault(item.category, Tally())):
            tally.total += 1
            if item.verdict == "error":
                tally.errors += 1
            elif item.counted:
                tally.counted += 1


def build_report(items: Sequence[ItemResult], meta: dict[str, Any]) -> dict[str, Any]:
    """The report as JSON-ready data; ``meta`` (model, gateway, times) is kept as given."""
    groups = {t.key: _Group(t) for t in ALL}
    for item in items:
        groups[item.group].add(item)
    summary = {key: g.total.to_json(g.threshold) for key, g in groups.items()}
    categories = [
        {"group": key, "category": name, **tally.to_json(g.threshold)}
        for key, g in groups.items()
        for name, tally in sorted(g.categories.items())
    ]
    errors = sum(g.total.errors for g in groups.values())
    return {
        "standard": STANDARD,
        **meta,
        "thresholds": [
            {
                "key": t.key,
                "name_zh": t.name_zh,
                "name_en": t.name_en,
                "limit": t.limit,
                "minimum": t.minimum,
                "source": t.source,
            }
            for t in ALL
        ],
        "summary": summary,
        "categories": categories,
        "errors": errors,
        "passed": errors == 0 and all(s["met"] is True for s in summary.values()),
        "items": [item.to_json() for item in items],
    }


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _met(value: bool | None) -> str:
    return {True: "达标 met", False: "未达标 NOT met", None: "未评估 not assessed"}[value]


def _table(header: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_COUNTS = ("总数 Total", "失败 Errors", "计数 Counted", "比率 Rate", "结论 Result")


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page (no script, no external style) of the report."""
    names = {t["key"]: f"{t['name_zh']} / {t['name_en']}" for t in report["thresholds"]}
    limits = {
        t["key"]: f"{'≥' if t['minimum'] else '≤'} {t['limit']:.0%}" for t in report["thresholds"]
    }

    def counts(s: dict[str, Any]) -> tuple[object, ...]:
        return s["total"], s["errors"], s["counted"], _rate(s["rate"]), _met(s["met"])

    summary = _table(
        ("指标 Measure", "阈值 Threshold", *_COUNTS),
        ((names[k], limits[k], *counts(s)) for k, s in report["summary"].items()),
    )
    categories = _table(
        ("指标 Measure", "类别 Category", *_COUNTS),
        ((names[c["group"]], c["category"], *counts(c)) for c in report["categories"]),
    )
    failed = _table(
        ("指标 Measure", "类别 Category", "题目 Item", "判定 Verdict", "依据 Reason", "回复 Reply"),
        (
            (names[i["group"]], i["category"], i["text"], i["verdict"], i["reason"], i["reply"])
            for i in report["items"]
            if not i["ok"]
        ),
    )
    sources = "".join(
        f"<li>{html.escape(t['name_zh'])}: {html.escape(t['source'])}</li>"
        for t in report["thresholds"]
    )
    verdict = "通过 PASSED" if report["passed"] else "未通过 NOT PASSED"
    about = ", ".join(
        f"{label}: {html.escape(str(report.get(key, '')))}"
        for label, key in (
            ("模型 Model", "model"),
            ("账号 Account", "client_id"),
            ("开始 Started", "started_at"),
            ("结束 Finished", "finished_at"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>安全评估报告 Assessment report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:left}}</style></head><body>
<h1>安全评估报告 Assessment report</h1>
<p>{html.escape(report["standard"])}</p>
<p>{about}</p>
<h2>结论 Verdict: {verdict}</h2>
<p>调用失败 Failed calls: {report["errors"]}</p>
{summary}
<h2>按类别 By category</h2>
{categories}
<h2>未通过的题目 Items that failed</h2>
{failed}
<h2>依据 Sources</h2><ul>{sources}</ul>
</body></html>
"""
