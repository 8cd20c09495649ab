"""KV-cache accounting, with multi-head latent attention (MLA) modelled exactly.

A dense or grouped-query attention layer caches a key and a value vector per KV head per
token: ``2 * kv_heads * head_dim`` elements. An MLA layer (DeepSeek-V2/V3/R1) caches one
compressed latent of ``kv_lora_rank`` elements plus the decoupled RoPE key of
``qk_rope_head_dim`` elements, shared by all heads: 512 + 64 = 576 elements per token per
layer, against 2 * 128 * 128 = 32,768 for the same 128 heads uncompressed.

How vLLM places the cache on tensor-parallel ranks matters as much: GQA shards KV heads
across ranks (a rank holds at least one head, so TP beyond the KV-head count replicates),
while the MLA latent is not split by head and every rank holds all of it.

DeepSeek-V3.2's sparse attention adds the lightning indexer's cache: one key of
``index_head_dim`` FP8 values and an FP32 scale per 128 of them per token per layer
(128 + 4 = 132 bytes; vLLM's deepseek_v2.py Indexer allocates ``head_dim + head_dim //
quant_block_size * 4`` bytes), kept in FP8 whatever the KV dtype. Its FP8 MLA cache is vLLM's
``fp8_ds_mla`` record of 656 bytes (512 FP8 latent values, four FP32 scales, the 64-element
RoPE key in BF16; vLLM's FlashMLASparseBackend.get_kv_cache_shape), which vLLM picks for
``--kv-cache-dtype fp8`` on the sparse backend. DeepSeek-V4 caches FP8 only; its bytes per
token are the catalogue's stated estimate, held whole on every rank like a latent.
"""

from __future__ import annotations

import math
from enum import StrEnum

from appliance.sizing.catalog import ModelArch


class KvCacheDtype(StrEnum):
    """vLLM's ``--kv-cache-dtype``: ``auto`` keeps the model's activation dtype (BF16)."""

    AUTO = "auto"
    FP8 = "fp8"

    @property
    def bits(self) -> int:
        return 16 if self is KvCacheDtype.AUTO else 8


FP8_DS_MLA_BYTES = 656
INDEXER_SCALE_BLOCK = 128


def indexer_bytes_per_token_per_layer(arch: ModelArch) -> int:
    """The lightning indexer's cached key per token per layer (0 without an indexer)."""
    if arch.indexer is None:
        return 0
    dim = arch.indexer.head_dim
    return dim + 4 * math.ceil(dim / INDEXER_SCALE_BLOCK)


def kv_elements_per_token_per_layer(arch: ModelArch) -> int:
    """Elements one token adds to one layer's cache."""
    if arch.mla is not None:
        return arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim
    return 2 * arch.kv_heads * arch.head_dim


def kv_bytes_per_token(arch: ModelArch, bits_per_element: float) -> float:
    """Whole-model KV bytes per token (all layers, one copy)."""
    return arch.layers * kv_elements_per_token_per_layer(arch) * bits_per_element / 8


def kv_reduction(new: ModelArch, new_bits: float, old: ModelArch, old_bits: float) -> float:
    """Fraction of per-token KV cache saved by ``new`` against ``old`` (0.933 = 93.3%)."""
    return 1 - kv_bytes_per_token(new, new_bits) / kv_bytes_per_token(old, old_bits)


def kv_bytes_per_token_per_gpu(
    arch: ModelArch, dtype: KvCacheDtype, *, tensor_parallel: int, pipeline_parallel: int
) -> float:
    """Bytes one token occupies on each GPU of a replica (the largest pipeline stage)."""
    if arch.stated is not None:
        return arch.stated.kv_bytes_per_token / pipeline_parallel
    layers = math.ceil(arch.layers / pipeline_parallel)
    if arch.indexer is not None and arch.mla is not None:
        latent = (
            FP8_DS_MLA_BYTES
            if dtype is KvCacheDtype.FP8
            else kv_elements_per_token_per_layer(arch) * dtype.bits / 8
        )
        return layers * (latent + indexer_bytes_per_token_per_layer(arch))
    if arch.mla is not None:
        elements = kv_elements_per_token_per_layer(arch)
    else:
        heads_per_rank = max(1, arch.kv_heads // tensor_parallel)
        elements = 2 * heads_per_rank * arch.head_dim
    return layers * elements * dtype.bits / 8
