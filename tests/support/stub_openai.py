"""A fast stand-in for vLLM's OpenAI server, for benchmarks and fault-injection tests.

Serves ``/health``, ``/v1/models`` and ``/v1/chat/completions`` (plain and SSE streaming,
shaped like vLLM's with the ``deepseek_r1`` reasoning parser: ``reasoning`` deltas, then
``content`` deltas, then a usage chunk when ``stream_options.include_usage`` is set). By
default it answers at once, so a benchmark measures the gateway, not the model.

Faults, from the command line at start or at run time with ``POST /control`` (same names,
JSON body): ``chunk_delay_ms`` (sleep before each streamed chunk), ``die_after_chunks``
(the process exits with ``os._exit`` after that many chunks of a stream: a crashed
backend), ``fail_status`` (answer chat requests with this HTTP status), ``zero_usage``
(report 0 tokens, so load tests do not use up a user's daily quota), ``reasoning`` and
``content`` (lists of deltas: what the stub answers instead of its usual answer, to test
what the gateway does with a given text, cut where a test chooses). ``GET /stats``
counts requests per route and keeps the last chat request body.

    python tests/support/stub_openai.py 18011 [--chunk-delay-ms 5] [--die-after-chunks 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

REASONING = ["The user ", "asks for ", "a capital."]
CONTENT = ["The capital ", "of France ", "is Paris."]


@dataclass
class Faults:
    chunk_delay_ms: float = 0.0
    die_after_chunks: int | None = None
    fail_status: int | None = None
    # Report zero tokens in `usage`: benchmarks then leave the bench user's daily quota alone.
    zero_usage: bool = False
    # The answer's deltas, when a test chooses them (None: REASONING and CONTENT).
    reasoning: list[str] | None = None
    content: list[str] | None = None


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class Stub:
    """Holds the model name, the current faults and the counters of one stub process."""

    def __init__(self, model: str, faults: Faults) -> None:
        self.model = model
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self.last_chat_request: dict[str, Any] | None = None
        self.app = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/v1/models", self.models),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/stats", self.stats),
                Route("/control", self.control, methods=["POST"]),
            ]
        )

    async def health(self, request: Request) -> Response:
        self.counts["health"] += 1
        return Response(status_code=200)

    async def models(self, request: Request) -> Response:
        self.counts["models"] += 1
        card = {
            "id": self.model,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "vllm",
            "root": self.model,
            "parent": None,
            "max_model_len": 8192,
        }
        return _json({"object": "list", "data": [card]})

    async def stats(self, request: Request) -> Response:
        return _json(
            {
                "requests": sum(self.counts.values()),
                "by_route": dict(self.counts),
                "faults": asdict(self.faults),
                "last_chat_request": self.last_chat_request,
            }
        )

    async def control(self, request: Request) -> Response:
        """Change faults at run time; ``{"reset": true}`` also zeroes the counters."""
        body = orjson.loads(await request.body())
        if body.pop("reset", False):
            self.counts.clear()
            self.last_chat_request = None
        self.faults = Faults(**{**asdict(self.faults), **body})
        return _json(asdict(self.faults))

    async def chat(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.last_chat_request = body
        if self.faults.fail_status is not None:
            self.counts["chat_failed"] += 1
            error = {"message": "injected failure", "type": "InternalServerError", "code": 500}
            return _json({"object": "error", **error}, status=self.faults.fail_status)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        if body.get("stream"):
            self.counts["chat_stream"] += 1
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._stream(prompt_tokens, usage=usage), media_type="text/event-stream"
            )
        self.counts["chat"] += 1
        return _json(self._completion(prompt_tokens))

    def _usage(self, prompt_tokens: int) -> dict[str, Any]:
        completion = len(REASONING) + len(CONTENT)
        if self.faults.zero_usage:
            prompt_tokens = completion = 0
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": None,
        }

    def _answer(self) -> tuple[list[str], list[str]]:
        """The reasoning and content deltas to send."""
        faults = self.faults
        return faults.reasoning or REASONING, faults.content or CONTENT

    def _completion(self, prompt_tokens: int) -> dict[str, Any]:
        reasoning, content = self._answer()
        message = {
            "role": "assistant",
            "content": "".join(content),
            "reasoning": "".join(reasoning),
            "tool_calls": [],
        }
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": None,
        }
        return {
            "id": f"chatcmpl-{os.urandom(8).hex()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            "usage": self._usage(prompt_tokens),
        }

    async def _stream(self, prompt_tokens: int, *, usage: bool) -> AsyncIterator[bytes]:
        base = {
            "id": f"chatcmpl-{os.urandom(8).hex()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }
        deltas: list[tuple[dict[str, Any], str | None]] = [
            ({"role": "assistant", "content": ""}, None)
        ]
        reasoning, content = self._answer()
        deltas += [({"reasoning": text}, None) for text in reasoning]
        deltas += [({"content": text}, None) for text in content[:-1]]
        deltas.append(({"content": content[-1]}, "stop"))
        faults = self.faults
        for sent, (delta, finish) in enumerate(deltas):
            if faults.die_after_chunks is not None and sent >= faults.die_after_chunks:
                os._exit(1)
            if faults.chunk_delay_ms:
                await asyncio.sleep(faults.chunk_delay_ms / 1000)
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            yield b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"
        if usage:
            yield (
                b"data: "
                + orjson.dumps({**base, "choices": [], "usage": self._usage(prompt_tokens)})
                + b"\n\n"
            )
        yield b"data: [DONE]\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--die-after-chunks", type=int, default=None)
    parser.add_argument("--fail-status", type=int, default=None)
    parser.add_argument("--zero-usage", action="store_true")
    args = parser.parse_args()
    faults = Faults(args.chunk_delay_ms, args.die_after_chunks, args.fail_status, args.zero_usage)
    uvicorn.run(
        Stub(args.model, faults).app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
