"""The catalogue's figures: parameter counts derived from them must match the published
totals, and admins' ways of naming GPUs must resolve."""

import pytest

from appliance.errors import InvalidRequest
from appliance.sizing.catalog import MODELS, Quantization, model
from appliance.sizing.gpus import GPUS, gpu, parse_gpus

# Published totals (billions): model cards and papers.
PUBLISHED = {
    "r1": (671, 37),
    "deepseek-v2": (236, 21),
    "deepseek-67b": (67, 67),
    "distill-llama-70b": (70.6, 70.6),
    "distill-qwen-32b": (32.8, 32.8),
    "distill-qwen-14b": (14.8, 14.8),
    "distill-llama-8b": (8.03, 8.03),
    "distill-qwen-7b": (7.62, 7.62),
    "distill-qwen-1.5b": (1.78, 1.78),
}


@pytest.mark.parametrize(("key", "totals"), PUBLISHED.items())
def test_parameter_counts_match_published_totals(key: str, totals: tuple[float, float]) -> None:
    arch = MODELS[key]
    total, active = totals
    assert arch.total_params / 1e9 == pytest.approx(total, rel=0.015)
    assert arch.active_params / 1e9 == pytest.approx(active, rel=0.03)


def test_r1_architecture_is_deepseek_v3() -> None:
    r1 = model("deepseek-ai/DeepSeek-R1")
    assert (r1.layers, r1.hidden, r1.heads, r1.vocab) == (61, 7168, 128, 129280)
    assert r1.mla is not None and r1.moe is not None
    assert (r1.mla.kv_lora_rank, r1.mla.qk_rope_head_dim) == (512, 64)
    assert (r1.mla.qk_nope_head_dim, r1.mla.v_head_dim, r1.mla.q_lora_rank) == (128, 128, 1536)
    assert (r1.moe.routed_experts, r1.moe.shared_experts, r1.moe.active_experts) == (256, 1, 8)
    assert (r1.moe.first_k_dense, r1.moe.moe_intermediate) == (3, 2048)
    assert r1.released is Quantization.FP8


def test_fp8_weights_of_the_7b_distill_match_what_vllm_loaded_on_the_h200() -> None:
    # vLLM reported 8.2 GiB (FP8) and 14.3 GiB (BF16) of weights for this shape.
    qwen7 = model("distill-qwen-7b")
    assert qwen7.weight_bytes(Quantization.FP8) / 2**30 == pytest.approx(8.2, abs=0.15)
    assert qwen7.weight_bytes(Quantization.BF16) / 2**30 == pytest.approx(14.3, abs=0.15)


def test_moe_decode_touches_more_experts_as_the_batch_grows() -> None:
    r1 = model("r1")
    assert r1.experts_touched(1) == pytest.approx(8)
    # 256 * (1 - (248/256)**64)
    assert r1.experts_touched(64) == pytest.approx(222.4, abs=0.1)


@pytest.mark.parametrize(
    ("text", "count", "key"),
    [
        ("8xH20", 8, "H20"),
        ("8×H200", 8, "H200"),
        ("2*A100-80GB", 2, "A100-80G"),
        ("4 x a800_40g", 4, "A800-40G"),
        ("1x4090", 1, "RTX4090"),
        ("2xL40S", 2, "L40S"),
        ("8xH100 SXM", 8, "H100"),
    ],
)
def test_gpu_counts_parse_as_admins_write_them(text: str, count: int, key: str) -> None:
    assert parse_gpus(text) == (count, GPUS[key])


def test_ambiguous_and_unknown_gpus_are_refused_with_the_choices() -> None:
    with pytest.raises(InvalidRequest, match="A100-80G, A100-40G"):
        gpu("A100")
    with pytest.raises(InvalidRequest, match="unknown GPU"):
        gpu("MI300X")
    with pytest.raises(InvalidRequest, match="like '8xH20'"):
        parse_gpus("H20")


def test_fp8_support_follows_the_architecture() -> None:
    native = {key for key, spec in GPUS.items() if spec.native_fp8}
    assert native == {"H200", "H100", "H800", "H20", "H20-141G", "L40S", "L20", "RTX4090"}
