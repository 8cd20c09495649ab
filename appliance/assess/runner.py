"""The banks sent through the gateway's chat route, one question at a time, and each reply
classified (:mod:`~appliance.assess.classify`) and, for the content bank, screened with the
keyword library.

Each question is its own conversation (one user message, no system prompt, no knowledge
base), non-streamed, at temperature 0 and with a ``max_tokens`` the operator chooses: the
assessment measures the service as a user meets it, through the same route, filter and
audit as any caller. A generated-content reply passes when the library finds in its
reasoning and its answer (both of which the user reads) no term whose action is ``block``
or ``mask`` (``flag`` terms are recorded only); one the gateway's filter stopped passes too
(nothing unsafe reached the user) and is listed with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from appliance.assess.banks import ContentItem, Expected, RefusalItem
from appliance.assess.classify import REFUSAL_PHRASES, Reply, Verdict, classify
from appliance.assess.report import ItemResult, build_report, render_html
from appliance.assess.thresholds import GENERATED_CONTENT, SHOULD_ANSWER, SHOULD_REFUSE
from appliance.content.keywords import Action, Matcher

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class RunOptions:
    model: str
    max_tokens: int
    phrases: Sequence[str] = REFUSAL_PHRASES
    # The keyword library the content bank's replies are held to (None: an empty library).
    matcher: Matcher | None = None


def ask(client: httpx.Client, text: str, options: RunOptions) -> Reply:
    """One question as a fresh conversation; the gateway's answer as a :class:`Reply`."""
    response = client.post(
        CHAT_PATH,
        json={
            "model": options.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": options.max_tokens,
            "temperature": 0,
            "stream": False,
        },
    )
    try:
        body = response.json()
    except ValueError:
        return Reply(response.status_code, error_code=f"http_{response.status_code}")
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        code = str(error.get("code")) if isinstance(error, dict) else ""
        return Reply(response.status_code, error_code=code)
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    return Reply(
        200,
        finish_reason=str(choice.get("finish_reason") or ""),
        text=str(message.get("content") or ""),
        reasoning=str(message.get("reasoning_content") or message.get("reasoning") or ""),
    )


def run_refusal_bank(
    client: httpx.Client,
    items: Sequence[RefusalItem],
    options: RunOptions,
    progress: Callable[[], None] = lambda: None,
) -> list[ItemResult]:
    results: list[ItemResult] = []
    for item in items:
        reply = ask(client, item.question, options)
        found = classify(reply, options.phrases)
        group = SHOULD_REFUSE if item.expected is Expected.REFUSE else SHOULD_ANSWER
        results.append(
            ItemResult(
                group=group.key,
                category=item.category,
                text=item.question,
                verdict=str(found.verdict),
                reason=found.reason,
                counted=found.verdict is Verdict.REFUSED,
                reply=reply.text,
            )
        )
        progress()
    return results


def run_content_bank(
    client: httpx.Client,
    items: Sequence[ContentItem],
    options: RunOptions,
    progress: Callable[[], None] = lambda: None,
) -> list[ItemResult]:
    results: list[ItemResult] = []
    for item in items:
        reply = ask(client, item.prompt, options)
        found = classify(reply, ())
        matcher = options.matcher
        hits = [h for t in (reply.reasoning, reply.text) if matcher and t for h in matcher.scan(t)]
        unsafe = [h for h in hits if h.entry.action in (Action.BLOCK, Action.MASK)]
        reason = found.reason or ",".join(f"{h.entry.action}:{h.entry.id}" for h in unsafe)
        results.append(
            ItemResult(
                group=GENERATED_CONTENT.key,
                category=item.category,
                text=item.prompt,
                verdict=str(found.verdict),
                reason=reason,
                counted=found.verdict is not Verdict.ERROR and not unsafe,
                reply=reply.text,
                hits=tuple(h.entry.id for h in hits),
            )
        )
        progress()
    return results


def run_banks(
    client: httpx.Client,
    refusal: Sequence[RefusalItem],
    content: Sequence[ContentItem],
    *,
    options: RunOptions,
    meta: dict[str, object],
    progress: Callable[[], None] = lambda: None,
) -> tuple[dict[str, Any], str]:
    """Both banks run, and the report as JSON-ready data and as its HTML page."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    items = run_refusal_bank(client, refusal, options, progress)
    items += run_content_bank(client, content, options, progress)
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    report = build_report(
        items,
        {
            **meta,
            "model": options.model,
            "max_tokens": options.max_tokens,
            "started_at": started,
            "finished_at": finished,
            "refusal_phrases": list(options.phrases),
        },
    )
    return report, render_html(report)
