"""The models customers deploy, with the architecture figures sizing depends on.

Architecture figures are those of each model's published ``config.json`` on Hugging Face
(``https://huggingface.co/<hf_repo>/blob/main/config.json``); DeepSeek-V2's and the 67B's
also appear in the DeepSeek-V2 paper (arXiv:2405.04434, section 2.1.2 and appendix) and the
DeepSeek LLM paper (arXiv:2401.02954, table 2). Parameter counts are derived from the
architecture (biases and norms, under 0.01%, left out) and unit-tested against the
published totals, so a typo in a figure shows up as a wrong parameter count.

Each entry also carries how vLLM serves it (reasoning parser, tokenizer mode, tool-call
parser), as the model's vLLM recipe (``github.com/vllm-project/recipes``, ``DeepSeek/``)
runs it. DeepSeek-V4's config.json could not be read when it was catalogued: its entries
size from the figures the vLLM recipe and the model card state (`Stated`), and say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from appliance.errors import InvalidRequest

GIB = 1024**3


class Quantization(StrEnum):
    """Weight formats the appliance serves."""

    BF16 = "bf16"
    FP8 = "fp8"
    AWQ = "awq"
    GPTQ = "gptq"
    # Int8 weights and activations: the msmodelslim checkpoints vllm-ascend serves with
    # ``--quantization ascend`` (Ascend NPUs have no FP8).
    W8A8 = "w8a8"
    # FP8 attention and dense layers with MXFP4 routed experts: DeepSeek-V4's release format.
    MXFP4 = "mxfp4"


# Bytes stored per linear-layer weight. Int4 AWQ/GPTQ with group size 128 also store an
# FP16 scale and a 4-bit zero point per group: (4 + 16/128 + 4/128) / 8 bytes. FP8 block
# (128x128) or per-channel scales add under 0.03% and are left out.
WEIGHT_BYTES: dict[Quantization, float] = {
    Quantization.BF16: 2.0,
    Quantization.FP8: 1.0,
    Quantization.AWQ: (4 + 16 / 128 + 4 / 128) / 8,
    Quantization.GPTQ: (4 + 16 / 128 + 4 / 128) / 8,
    Quantization.W8A8: 1.0,
    # MXFP4: 4-bit values with one 8-bit shared exponent per 32. Only stated models (V4)
    # are offered in it, and they size from their checkpoint's stated bytes.
    Quantization.MXFP4: (4 + 8 / 32) / 8,
}

# Embeddings and the LM head stay in BF16 in every format vLLM loads.
EMBEDDING_BYTES = 2.0


@dataclass(frozen=True, slots=True)
class Mla:
    """Multi-head latent attention (DeepSeek-V2/V3/R1): one compressed latent per token."""

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int | None


@dataclass(frozen=True, slots=True)
class Moe:
    """DeepSeekMoE layout: routed experts plus always-on shared experts."""

    routed_experts: int
    shared_experts: int
    active_experts: int
    moe_intermediate: int
    first_k_dense: int


@dataclass(frozen=True, slots=True)
class Indexer:
    """DeepSeek Sparse Attention's lightning indexer (V3.2): per layer, ``index_n_heads``
    query heads of ``index_head_dim`` score every cached token through one cached key of
    ``index_head_dim`` per token, and the ``index_topk`` best are attended to."""

    n_heads: int
    head_dim: int
    topk: int


@dataclass(frozen=True, slots=True)
class Stated:
    """Sizes a model's own documents state, used where its config.json was not verified.

    ``kv_bytes_per_token`` is the whole model's FP8 cache per token (every layer, one copy,
    not split by tensor parallelism); ``unverified`` names the figures that are estimates.
    """

    total_params: float
    active_params: float
    checkpoint_bytes: float
    kv_bytes_per_token: float
    unverified: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelArch:
    """One model's architecture, as its config.json states it."""

    key: str
    name: str
    hf_repo: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool
    max_context: int
    quantizations: tuple[Quantization, ...]
    # The format the weights are published in (vLLM reads its quantization from the
    # checkpoint); other formats are either quantized online at load (FP8 from BF16) or
    # come from a community int4 checkpoint that carries its own quantization config.
    released: Quantization = Quantization.BF16
    mla: Mla | None = None
    moe: Moe | None = None
    deployable: bool = True
    indexer: Indexer | None = None
    stated: Stated | None = None
    # num_nextn_predict_layers: the multi-token-prediction draft head the checkpoint ships.
    mtp_layers: int = 0
    # How vLLM serves it (the model's vLLM recipe).
    reasoning_parser: str = "deepseek_r1"
    tokenizer_mode: str | None = None
    tool_call_parser: str | None = None
    # The chat template's keyword that turns thinking on (None: the model always thinks).
    thinking_kwarg: str | None = None
    # Sparse attention kernels (FlashMLA sparse, DeepGEMM): Hopper or newer in vLLM.
    needs_sparse_kernels: bool = False

    def _indexer_params(self) -> int:
        if self.indexer is None or self.mla is None or self.mla.q_lora_rank is None:
            return 0
        i = self.indexer
        wq_b = self.mla.q_lora_rank * i.n_heads * i.head_dim
        return wq_b + self.hidden * i.head_dim + self.hidden * i.n_heads

    def _attention_params(self) -> int:
        h = self.hidden
        if self.mla is None:
            q_and_o = 2 * h * self.heads * self.head_dim
            return q_and_o + 2 * h * self.kv_heads * self.head_dim
        m = self.mla
        qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            q = h * self.heads * qk_head
        else:
            q = h * m.q_lora_rank + m.q_lora_rank * self.heads * qk_head
        kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv_b = m.kv_lora_rank * self.heads * (m.qk_nope_head_dim + m.v_head_dim)
        o = self.heads * m.v_head_dim * h
        return q + kv_a + kv_b + o + self._indexer_params()

    def _mlp_params(self, *, experts_per_layer: float | None) -> float:
        """MLP weights; ``experts_per_layer`` counts the routed experts read (None: all)."""
        dense = 3 * self.hidden * self.intermediate
        if self.moe is None:
            return self.layers * dense
        e = self.moe
        expert = 3 * self.hidden * e.moe_intermediate
        routed = e.routed_experts if experts_per_layer is None else experts_per_layer
        router = e.routed_experts * self.hidden
        moe_layers = self.layers - e.first_k_dense
        return e.first_k_dense * dense + moe_layers * (
            (routed + e.shared_experts) * expert + router
        )

    def experts_touched(self, batch: int) -> float:
        """Routed experts one decode step reads per MoE layer for ``batch`` sequences.

        With tokens routed uniformly, the expected number of distinct experts hit is
        ``E * (1 - (1 - k/E) ** batch)``: 8 at batch 1 for R1, 222 of 256 at batch 64.
        """
        if self.moe is None:
            return 0.0
        e, k = self.moe.routed_experts, self.moe.active_experts
        return e * (1 - (1 - k / e) ** batch)

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def lm_head_params(self) -> int:
        """The LM head is read in full for every generated token, tied or not."""
        return self.vocab * self.hidden

    def linear_params(self, *, batch: int | None = None) -> float:
        """Weights of the attention and MLP projections (what quantization shrinks): all of
        them, or those a decode step of ``batch`` sequences reads."""
        experts = None if batch is None else self.experts_touched(batch)
        return self.layers * self._attention_params() + self._mlp_params(experts_per_layer=experts)

    @property
    def total_params(self) -> float:
        if self.stated is not None:
            return self.stated.total_params
        stored_head = 0 if self.tied_embeddings else self.lm_head_params
        return self.linear_params() + self.embedding_params + stored_head

    @property
    def active_params(self) -> float:
        """Parameters used per token (the MoE's routed share only), embeddings included."""
        if self.stated is not None:
            return self.stated.active_params
        stored_head = 0 if self.tied_embeddings else self.lm_head_params
        return self.linear_params(batch=1) + self.embedding_params + stored_head

    def weight_bytes(self, quantization: Quantization) -> float:
        """Bytes of weights held in GPU memory in this format."""
        if self.stated is not None:
            return self.stated.checkpoint_bytes
        stored_head = 0 if self.tied_embeddings else self.lm_head_params
        embeddings = (self.embedding_params + stored_head) * EMBEDDING_BYTES
        return self.linear_params() * WEIGHT_BYTES[quantization] + embeddings

    def streamed_weight_bytes(self, quantization: Quantization, batch: int = 1) -> float:
        """Bytes of weights one decode step reads: the linear weights the batch touches and
        the whole LM head; the embedding lookup reads a single row per sequence.

        A stated model reads its active parameters per sequence at the checkpoint's mean
        bytes per parameter, up to the whole checkpoint (an estimate: its expert count is
        not verified)."""
        if self.stated is not None:
            s = self.stated
            per_param = s.checkpoint_bytes / s.total_params
            return min(s.total_params, s.active_params * batch) * per_param
        active = self.linear_params(batch=batch) * WEIGHT_BYTES[quantization]
        return active + self.lm_head_params * EMBEDDING_BYTES

    def mtp_weight_bytes(self, quantization: Quantization) -> float:
        """Bytes the draft head adds when vLLM loads it for MTP speculative decoding: one
        decoder layer like the last, its ``eh_proj`` (2h x h), and its own embedding and
        head copies (vLLM's DeepSeek MTP module loads both)."""
        if self.mtp_layers == 0 or self.moe is None:
            return 0.0
        e = self.moe
        expert = 3 * self.hidden * e.moe_intermediate
        layer = self._attention_params() + (e.routed_experts + e.shared_experts) * expert
        layer += e.routed_experts * self.hidden + 2 * self.hidden * self.hidden
        per_layer = layer * WEIGHT_BYTES[quantization] + 2 * self.vocab * self.hidden * 2
        return self.mtp_layers * per_layer

    @property
    def is_moe(self) -> bool:
        return self.moe is not None or self.stated is not None


_DISTILL_QUANTS = (Quantization.BF16, Quantization.FP8, Quantization.AWQ, Quantization.GPTQ)
_V3_MLA = Mla(
    kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128, q_lora_rank=1536
)
_V3_MOE = Moe(
    routed_experts=256, shared_experts=1, active_experts=8, moe_intermediate=2048, first_k_dense=3
)
_V3_QUANTS = (Quantization.FP8, Quantization.AWQ, Quantization.GPTQ, Quantization.W8A8)
_V32_QUANTS = (Quantization.FP8,)


def _v3_line(**fields: Any) -> ModelArch:
    """The DeepSeek-V3 shape (R1's config.json figures) that R1-0528, V3.1, V3.1-Terminus
    and, with its indexer, V3.2 keep."""
    return ModelArch(
        layers=61,
        hidden=7168,
        heads=128,
        kv_heads=128,
        head_dim=192,
        intermediate=18432,
        vocab=129280,
        tied_embeddings=False,
        released=Quantization.FP8,
        mla=_V3_MLA,
        moe=_V3_MOE,
        mtp_layers=1,
        **fields,
    )


# DeepSeek-V4's FP8 KV cache per token: the model card puts it at about 10% of V3.2's at
# 1M context; V3.2's is 61 x (656 + 132) = 48,068 B (see kvcache), so about 4,807 B.
_V4_KV_PER_TOKEN = 0.10 * 61 * (656 + 132)

MODELS: dict[str, ModelArch] = {
    m.key: m
    for m in (
        # deepseek-ai/DeepSeek-R1 config.json (DeepseekV3ForCausalLM); 671B total, 37B active
        # (arXiv:2412.19437). Its MTP draft head (layer 61, num_nextn_predict_layers 1) is loaded
        # only when a plan asks for MTP speculative decoding.
        ModelArch(
            key="r1",
            name="DeepSeek-R1 671B",
            hf_repo="deepseek-ai/DeepSeek-R1",
            layers=61,
            hidden=7168,
            heads=128,
            kv_heads=128,
            head_dim=192,
            intermediate=18432,
            vocab=129280,
            tied_embeddings=False,
            max_context=163840,
            quantizations=_V3_QUANTS,
            released=Quantization.FP8,
            mla=_V3_MLA,
            moe=_V3_MOE,
            mtp_layers=1,
        ),
        # deepseek-ai/DeepSeek-R1-0528 config.json: R1's architecture unchanged (61 layers,
        # 256+1 experts, num_nextn_predict_layers 1, max_position_embeddings 163840); the
        # vLLM reasoning parser stays deepseek_r1.
        _v3_line(
            key="r1-0528",
            name="DeepSeek-R1-0528 671B",
            hf_repo="deepseek-ai/DeepSeek-R1-0528",
            max_context=163840,
            quantizations=_V3_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-0528-Qwen3-8B config.json (Qwen3ForCausalLM, the Qwen3-8B
        # shape): 36 layers, hidden 4096, 32 heads, 8 KV heads of 128, intermediate 12288,
        # vocab 151936, untied; max_position_embeddings 131072 (YaRN factor 4 over 32768).
        ModelArch(
            key="r1-0528-qwen3-8b",
            name="DeepSeek-R1-0528-Qwen3-8B",
            hf_repo="deepseek-ai/DeepSeek-R1-0528-Qwen3-8B",
            layers=36,
            hidden=4096,
            heads=32,
            kv_heads=8,
            head_dim=128,
            intermediate=12288,
            vocab=151936,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-V3.1 and -V3.1-Terminus config.json: the V3 shape. The model
        # card gives 128K context (max_position_embeddings says 163840); thinking is the
        # chat template's ``thinking`` argument, which vLLM's deepseek_v3 reasoning parser
        # follows (recipes DeepSeek/DeepSeek-V3_1.md). Its tool calling needs vLLM's
        # examples/tool_chat_template_deepseekv31.jinja, which the wheel does not ship, so
        # no tool-call parser is set.
        _v3_line(
            key="v3.1",
            name="DeepSeek-V3.1 671B",
            hf_repo="deepseek-ai/DeepSeek-V3.1",
            max_context=131072,
            quantizations=_V3_QUANTS,
            reasoning_parser="deepseek_v3",
            thinking_kwarg="thinking",
        ),
        _v3_line(
            key="v3.1-terminus",
            name="DeepSeek-V3.1-Terminus 671B",
            hf_repo="deepseek-ai/DeepSeek-V3.1-Terminus",
            max_context=131072,
            quantizations=_V3_QUANTS,
            reasoning_parser="deepseek_v3",
            thinking_kwarg="thinking",
        ),
        # deepseek-ai/DeepSeek-V3.2 config.json (DeepseekV32ForCausalLM): the V3 shape plus
        # the lightning indexer (index_n_heads 64, index_head_dim 128, index_topk 2048),
        # max_position_embeddings 163840. vLLM serves it with a custom FP8 KV cache by
        # default, --tokenizer-mode deepseek_v32, --tool-call-parser deepseek_v32 and
        # --reasoning-parser deepseek_v3, on Hopper or Blackwell only (recipes
        # DeepSeek/DeepSeek-V3_2.md).
        _v3_line(
            key="v3.2",
            name="DeepSeek-V3.2 671B",
            hf_repo="deepseek-ai/DeepSeek-V3.2",
            max_context=163840,
            quantizations=_V32_QUANTS,
            indexer=Indexer(n_heads=64, head_dim=128, topk=2048),
            reasoning_parser="deepseek_v3",
            tokenizer_mode="deepseek_v32",
            tool_call_parser="deepseek_v32",
            thinking_kwarg="thinking",
            needs_sparse_kernels=True,
        ),
        # deepseek-ai/DeepSeek-V4-Flash: 284B total, 13B active, 1M context; compressed
        # sparse attention (CSA + HCA); FP8 attention and dense layers with FP4 experts, a
        # ~170 GB checkpoint; vLLM: --tokenizer-mode, --tool-call-parser and
        # --reasoning-parser deepseek_v4, thinking switched by the chat template's
        # ``thinking`` (on when absent), FP8 KV cache only, speculative decoding off
        # (recipes DeepSeek/DeepSeek-V4-AMD.md; vllm/parser/deepseek_v4.py). Its config.json
        # was not verified: the layer count and the KV bytes per token are estimates, and
        # the architecture figures it would give are left 0 (sizing uses ``stated``).
        ModelArch(
            key="v4-flash",
            name="DeepSeek-V4-Flash 284B",
            hf_repo="deepseek-ai/DeepSeek-V4-Flash",
            layers=43,
            hidden=0,
            heads=0,
            kv_heads=0,
            head_dim=0,
            intermediate=0,
            vocab=0,
            tied_embeddings=False,
            max_context=1048576,
            quantizations=(Quantization.MXFP4,),
            released=Quantization.MXFP4,
            stated=Stated(
                total_params=284e9,
                active_params=13e9,
                checkpoint_bytes=170e9,
                kv_bytes_per_token=_V4_KV_PER_TOKEN,
                unverified=("layers", "kv_bytes_per_token", "architecture figures"),
            ),
            reasoning_parser="deepseek_v4",
            tokenizer_mode="deepseek_v4",
            tool_call_parser="deepseek_v4",
            thinking_kwarg="thinking",
            needs_sparse_kernels=True,
        ),
        # deepseek-ai/DeepSeek-V4-Pro: 1.6T total, 49B active, 1M context, a ~960 GB
        # FP8+FP4 checkpoint; the rest as V4-Flash, from the same sources.
        ModelArch(
            key="v4-pro",
            name="DeepSeek-V4-Pro 1.6T",
            hf_repo="deepseek-ai/DeepSeek-V4-Pro",
            layers=61,
            hidden=0,
            heads=0,
            kv_heads=0,
            head_dim=0,
            intermediate=0,
            vocab=0,
            tied_embeddings=False,
            max_context=1048576,
            quantizations=(Quantization.MXFP4,),
            released=Quantization.MXFP4,
            stated=Stated(
                total_params=1.6e12,
                active_params=49e9,
                checkpoint_bytes=960e9,
                kv_bytes_per_token=_V4_KV_PER_TOKEN,
                unverified=("layers", "kv_bytes_per_token", "architecture figures"),
            ),
            reasoning_parser="deepseek_v4",
            tokenizer_mode="deepseek_v4",
            tool_call_parser="deepseek_v4",
            thinking_kwarg="thinking",
            needs_sparse_kernels=True,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Llama-70B config.json (Llama-3.3-70B-Instruct base)
        ModelArch(
            key="distill-llama-70b",
            name="R1-Distill-Llama-70B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
            layers=80,
            hidden=8192,
            heads=64,
            kv_heads=8,
            head_dim=128,
            intermediate=28672,
            vocab=128256,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Qwen-32B config.json (Qwen2.5-32B base)
        ModelArch(
            key="distill-qwen-32b",
            name="R1-Distill-Qwen-32B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
            layers=64,
            hidden=5120,
            heads=40,
            kv_heads=8,
            head_dim=128,
            intermediate=27648,
            vocab=152064,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Qwen-14B config.json (Qwen2.5-14B base)
        ModelArch(
            key="distill-qwen-14b",
            name="R1-Distill-Qwen-14B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
            layers=48,
            hidden=5120,
            heads=40,
            kv_heads=8,
            head_dim=128,
            intermediate=13824,
            vocab=152064,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Llama-8B config.json (Llama-3.1-8B base)
        ModelArch(
            key="distill-llama-8b",
            name="R1-Distill-Llama-8B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            layers=32,
            hidden=4096,
            heads=32,
            kv_heads=8,
            head_dim=128,
            intermediate=14336,
            vocab=128256,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Qwen-7B config.json (Qwen2.5-Math-7B base)
        ModelArch(
            key="distill-qwen-7b",
            name="R1-Distill-Qwen-7B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
            layers=28,
            hidden=3584,
            heads=28,
            kv_heads=4,
            head_dim=128,
            intermediate=18944,
            vocab=152064,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B config.json (Qwen2.5-Math-1.5B base;
        # the distill unties the embeddings: 1.78B parameters)
        ModelArch(
            key="distill-qwen-1.5b",
            name="R1-Distill-Qwen-1.5B",
            hf_repo="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            layers=28,
            hidden=1536,
            heads=12,
            kv_heads=2,
            head_dim=128,
            intermediate=8960,
            vocab=151936,
            tied_embeddings=False,
            max_context=131072,
            quantizations=_DISTILL_QUANTS,
        ),
        # deepseek-ai/DeepSeek-V2 config.json; 236B total, 21B active (arXiv:2405.04434).
        # Kept for the paper's KV-cache comparison, not offered for deployment.
        ModelArch(
            key="deepseek-v2",
            name="DeepSeek-V2 236B",
            hf_repo="deepseek-ai/DeepSeek-V2",
            layers=60,
            hidden=5120,
            heads=128,
            kv_heads=128,
            head_dim=192,
            intermediate=12288,
            vocab=102400,
            tied_embeddings=False,
            max_context=131072,
            quantizations=(Quantization.BF16,),
            mla=_V3_MLA,
            moe=Moe(
                routed_experts=160,
                shared_experts=2,
                active_experts=6,
                moe_intermediate=1536,
                first_k_dense=1,
            ),
            deployable=False,
        ),
        # deepseek-ai/deepseek-llm-67b-base config.json: the dense baseline of the V2 paper.
        ModelArch(
            key="deepseek-67b",
            name="DeepSeek LLM 67B",
            hf_repo="deepseek-ai/deepseek-llm-67b-base",
            layers=95,
            hidden=8192,
            heads=64,
            kv_heads=8,
            head_dim=128,
            intermediate=22016,
            vocab=102400,
            tied_embeddings=False,
            max_context=4096,
            quantizations=(Quantization.BF16,),
            deployable=False,
        ),
    )
}


def model(name: str) -> ModelArch:
    """Look a model up by key ('r1', 'distill-qwen-7b') or by its Hugging Face name."""
    wanted = name.strip().lower()
    for arch in MODELS.values():
        repo = arch.hf_repo.lower()
        if wanted in (arch.key, repo, repo.split("/", 1)[1], arch.name.lower()):
            return arch
    raise InvalidRequest(f"unknown model {name!r}; known: {', '.join(MODELS)}")
