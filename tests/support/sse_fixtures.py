"""The recorded chat-completion streams of ``tests/fixtures/sse`` and what each one says.

Each stream is vLLM's answer in one reasoning format (see the directory's README); the
expected reasoning and answer text are read from the stream itself, so a test that feeds it
through the gateway or the web UI compares what came out against what vLLM sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.support.paths import REPO

SSE_DIR = REPO / "tests" / "fixtures" / "sse"
FORMATS = ("r1_reasoning", "r1_reasoning_content", "v31_thinking_on", "v31_thinking_off")


@dataclass(frozen=True, slots=True)
class Recorded:
    name: str
    raw: bytes
    reasoning: str
    content: str
    # The delta field the reasoning arrives under (None: the stream has no reasoning).
    reasoning_field: str | None


def data_payloads(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE stream, in order, ``[DONE]`` included."""
    return [event[5:].strip() for event in raw.decode().split("\n\n") if event.startswith("data:")]


def recorded(name: str) -> Recorded:
    raw = (SSE_DIR / f"{name}.sse").read_bytes()
    reasoning: list[str] = []
    content: list[str] = []
    field: str | None = None
    for data in data_payloads(raw):
        if data == "[DONE]":
            break
        for choice in json.loads(data).get("choices") or []:
            delta = choice.get("delta") or {}
            for key in ("reasoning", "reasoning_content"):
                if delta.get(key):
                    reasoning.append(delta[key])
                    field = key
            content.append(delta.get("content") or "")
    return Recorded(name, raw, "".join(reasoning), "".join(content), field)
