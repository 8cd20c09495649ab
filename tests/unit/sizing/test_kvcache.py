"""KV-cache accounting, including the DeepSeek-V2 paper's 93.3% reduction."""

import pytest

from appliance.sizing.catalog import model
from appliance.sizing.kvcache import (
    KvCacheDtype,
    kv_bytes_per_token,
    kv_bytes_per_token_per_gpu,
    kv_elements_per_token_per_layer,
    kv_reduction,
)


def test_mla_caches_one_latent_and_gqa_caches_keys_and_values() -> None:
    assert kv_elements_per_token_per_layer(model("r1")) == 512 + 64
    assert kv_elements_per_token_per_layer(model("deepseek-v2")) == 512 + 64
    assert kv_elements_per_token_per_layer(model("deepseek-67b")) == 2 * 8 * 128


def test_deepseek_v2_cuts_the_kv_cache_by_93_3_percent_against_the_67b() -> None:
    """The paper's 93.3% combines the architecture with the deployment's KV quantization.

    V2: 60 layers x 576 elements x 6 bits = 207,360 bits per token.
    67B: 95 layers x 2,048 elements x 16 bits = 3,112,960 bits per token.
    1 - 207,360 / 3,112,960 = 0.93339.
    MLA alone, both at 16 bits: 1 - 34,560 / 194,560 = 0.8224; the rest of the saving is
    the ~6-bit cache.
    """
    v2, dense = model("deepseek-v2"), model("deepseek-67b")
    assert kv_bytes_per_token(v2, 6) * 8 == 207_360
    assert kv_bytes_per_token(dense, 16) * 8 == 3_112_960
    assert round(kv_reduction(v2, 6, dense, 16), 3) == 0.933
    assert round(kv_reduction(v2, 16, dense, 16), 3) == 0.822


def test_mla_latent_is_replicated_on_every_tensor_parallel_rank() -> None:
    r1 = model("r1")
    per_gpu = kv_bytes_per_token_per_gpu(
        r1, KvCacheDtype.AUTO, tensor_parallel=8, pipeline_parallel=1
    )
    assert per_gpu == 61 * 576 * 2
    # two pipeline stages: the larger holds ceil(61 / 2) = 31 layers
    staged = kv_bytes_per_token_per_gpu(
        r1, KvCacheDtype.FP8, tensor_parallel=8, pipeline_parallel=2
    )
    assert staged == 31 * 576 * 1


@pytest.mark.parametrize(("tp", "heads_per_rank"), [(1, 4), (2, 2), (4, 1), (8, 1)])
def test_gqa_heads_are_split_across_ranks_and_replicated_beyond_the_kv_head_count(
    tp: int, heads_per_rank: int
) -> None:
    qwen7 = model("distill-qwen-7b")
    per_gpu = kv_bytes_per_token_per_gpu(
        qwen7, KvCacheDtype.AUTO, tensor_parallel=tp, pipeline_parallel=1
    )
    assert per_gpu == 28 * 2 * heads_per_rank * 128 * 2
