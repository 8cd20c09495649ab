"""The 2026 DeepSeek line (R1-0528, V3.1, V3.2, V4) and the cards they run on: catalogue
figures, the sparse-attention KV cache, what the planner answers, and the vLLM command line
each model's recipe uses (github.com/vllm-project/recipes, DeepSeek/)."""

import json

import pytest

from appliance.sizing.catalog import MODELS, Quantization, model
from appliance.sizing.gpus import GPUS, Backend, Fp8, parse_gpus
from appliance.sizing.kvcache import KvCacheDtype, kv_bytes_per_token_per_gpu
from appliance.sizing.launch_profile import to_launch_profile, vllm_arguments
from appliance.sizing.planner import Inventory, Plan, PlanImpossible, PlanRequest, plan

GIB = 2**30
R1_LINEAR, R1_EMBED = 669_172_039_680, 926_679_040
# V3.2's indexer per layer: wq_b 1536 x 64 x 128, wk 7168 x 128, weights_proj 7168 x 64.
V32_INDEXER = 61 * (1536 * 64 * 128 + 7168 * 128 + 7168 * 64)  # 851,509,248


def _plan(
    gpus: str,
    key: str | None,
    quant: Quantization | None = None,
    *,
    nodes: int = 1,
    context: int = 32768,
    mtp: bool = False,
) -> Plan:
    count, gpu = parse_gpus(gpus)
    arch = model(key) if key else None
    return plan(PlanRequest(Inventory(gpu, count, nodes), context, 20.0, arch, quant, mtp))


def _flags(p: Plan) -> list[str]:
    return vllm_arguments(to_launch_profile(p, "/srv/models/m", served_model_name="m"))


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


# --- catalogue -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["r1-0528", "v3.1", "v3.1-terminus", "v3.2"])
def test_the_v3_line_keeps_r1s_architecture_and_draft_head(key: str) -> None:
    arch, r1 = MODELS[key], MODELS["r1"]
    shape = ("layers", "hidden", "heads", "kv_heads", "vocab", "mla", "moe", "mtp_layers")
    assert all(getattr(arch, f) == getattr(r1, f) for f in shape)
    assert arch.mtp_layers == 1  # num_nextn_predict_layers in config.json
    assert arch.released is Quantization.FP8


def test_parameter_counts_of_the_new_models_match_their_cards() -> None:
    assert MODELS["r1-0528"].total_params / 1e9 == pytest.approx(671, rel=0.015)
    # Qwen3-8B: 8.19B
    assert MODELS["r1-0528-qwen3-8b"].total_params / 1e9 == pytest.approx(8.19, rel=0.01)
    # The indexer adds 0.85B to the V3 shape.
    v32 = MODELS["v3.2"]
    assert v32.total_params - MODELS["r1"].total_params == V32_INDEXER
    assert (MODELS["v4-flash"].total_params, MODELS["v4-flash"].active_params) == (284e9, 13e9)
    assert (MODELS["v4-pro"].total_params, MODELS["v4-pro"].active_params) == (1.6e12, 49e9)


def test_contexts_parsers_and_thinking_switches() -> None:
    assert MODELS["v3.1"].max_context == 131072  # the model card's 128K
    assert MODELS["v3.2"].max_context == 163840
    assert MODELS["v4-flash"].max_context == MODELS["v4-pro"].max_context == 1048576
    assert MODELS["r1-0528"].reasoning_parser == "deepseek_r1"
    for key in ("v3.1", "v3.1-terminus", "v3.2"):
        assert MODELS[key].reasoning_parser == "deepseek_v3"
        assert MODELS[key].thinking_kwarg == "thinking"
    for key in ("v4-flash", "v4-pro"):
        assert MODELS[key].thinking_kwarg == "thinking"
    for key in ("r1", "r1-0528"):
        assert MODELS[key].thinking_kwarg is None
    assert MODELS["v3.2"].indexer is not None
    assert (MODELS["v3.2"].indexer.n_heads, MODELS["v3.2"].indexer.head_dim) == (64, 128)
    assert MODELS["v3.2"].indexer.topk == 2048


def test_v4_figures_that_were_not_verified_say_so() -> None:
    for key in ("v4-flash", "v4-pro"):
        stated = MODELS[key].stated
        assert stated is not None
        assert "kv_bytes_per_token" in stated.unverified
        assert "layers" in stated.unverified


# --- GPUs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "key"),
    [
        ("8xH20-141G", 8, "H20-141G"),
        ("8x H20 141GB", 8, "H20-141G"),
        ("8x910B", 8, "910B"),
        ("16xAscend910C", 16, "910C"),
        ("8xK100", 8, "K100"),
        ("8xHygon K100", 8, "K100"),
    ],
)
def test_the_new_cards_parse_as_admins_write_them(text: str, count: int, key: str) -> None:
    assert parse_gpus(text) == (count, GPUS[key])


def test_each_card_says_what_it_runs() -> None:
    assert {k for k, g in GPUS.items() if g.fp8 is Fp8.NONE} == {"910B", "910C", "K100"}
    assert GPUS["A800-80G"].fp8 is Fp8.WEIGHT_ONLY
    hopper = {"H200", "H100", "H800", "H20", "H20-141G"}
    assert {k for k, g in GPUS.items() if g.fp4_experts} == hopper
    assert {k for k, g in GPUS.items() if g.sparse_attention} == hopper
    assert GPUS["910B"].backend is Backend.ASCEND and GPUS["K100"].backend is Backend.DCU
    assert (GPUS["H20-141G"].memory_gib, GPUS["H20-141G"].bandwidth_tbs) == (141, 4.8)
    assert "estimate" in GPUS["910B"].source


# --- KV cache --------------------------------------------------------------------------


def test_v32_caches_the_fp8_ds_mla_record_and_the_indexer_key() -> None:
    v32 = model("v3.2")
    fp8 = kv_bytes_per_token_per_gpu(v32, KvCacheDtype.FP8, tensor_parallel=8, pipeline_parallel=1)
    bf16 = kv_bytes_per_token_per_gpu(
        v32, KvCacheDtype.AUTO, tensor_parallel=8, pipeline_parallel=1
    )
    assert fp8 == 61 * (656 + 128 + 4) == 48_068
    assert bf16 == 61 * (576 * 2 + 132) == 78_324


# --- planner ---------------------------------------------------------------------------


def test_eight_h20_serve_v4_flash_on_two_gpu_expert_parallel_replicas() -> None:
    p = _plan("8xH20", "v4-flash")
    assert (p.quantization, p.tensor_parallel, p.replicas) == (Quantization.MXFP4, 2, 4)
    assert p.expert_parallel and p.kv_cache_dtype is KvCacheDtype.FP8
    room = (96 * 0.9 - 4) * GIB - 170e9 / 2  # 3.24 GiB per GPU
    assert p.kv_capacity_tokens == int(room // (0.10 * 61 * 788)) == 723_210
    assert p.max_full_context_seqs == 22
    assert any("not verified" in n for n in p.notes)
    assert any("dequantizing" in n for n in p.notes)


def test_v4_flash_holds_its_full_million_token_context_on_eight_h20() -> None:
    p = _plan("8xH20", "v4-flash", context=1_048_576)
    assert p.max_model_len == 1_048_576 and p.max_full_context_seqs >= 1


def test_v4_pro_needs_more_than_eight_h20_and_says_what_would_do() -> None:
    with pytest.raises(PlanImpossible) as refused:
        _plan("8xH20", "v4-pro")
    assert "needs ≥ 8×H200/H20-141G, or 2 nodes of 8×H100/H800/H20" in refused.value.message
    p = _plan("8xH200", "v4-pro")
    assert (p.tensor_parallel, p.replicas) == (8, 1)


def test_eight_h20_hold_v32_with_its_fp8_cache() -> None:
    p = _plan("8xH20", "v3.2")
    weights = R1_LINEAR + V32_INDEXER + 4 * R1_EMBED
    room = (96 * 0.9 - 4) * GIB - weights / 8
    assert p.kv_cache_dtype is KvCacheDtype.FP8
    assert p.kv_capacity_tokens == int(room // 48_068) == 88_625


@pytest.mark.parametrize("gpus", ["8x910B", "8xA800-80G", "8xL20", "8xK100"])
@pytest.mark.parametrize("key", ["v3.2", "v4-flash"])
def test_sparse_attention_models_are_refused_off_hopper(gpus: str, key: str) -> None:
    with pytest.raises(PlanImpossible, match="sparse-attention kernels"):
        _plan(gpus, key)


def test_fp8_is_never_planned_on_a_card_without_it() -> None:
    with pytest.raises(PlanImpossible, match="910B has no FP8 support"):
        _plan("8x910B", "distill-qwen-7b", Quantization.FP8)
    with pytest.raises(PlanImpossible, match="K100 has no FP8 support"):
        _plan("8xK100", "r1", Quantization.FP8, nodes=2)
    # A800 runs FP8 weights weight-only (Marlin) but never an FP8 KV cache.
    p = _plan("8xA800-80G", "r1", Quantization.FP8, nodes=2)
    assert p.kv_cache_dtype is KvCacheDtype.AUTO


def test_fp4_experts_are_refused_where_vllm_has_no_kernel_for_them() -> None:
    with pytest.raises(PlanImpossible, match="no Marlin int4 kernels"):
        _plan("8x910B", "distill-qwen-7b", Quantization.AWQ)
    for gpus in ("8x910B", "8xA800-80G"):
        with pytest.raises(PlanImpossible):
            _plan(gpus, "v4-flash", Quantization.MXFP4)


def test_eight_910b_without_a_model_get_the_70b_distill_in_bf16() -> None:
    p = _plan("8x910B", None)
    assert (p.model.key, p.quantization, p.tensor_parallel) == ("distill-llama-70b", "bf16", 4)
    assert any("vllm-ascend" in n for n in p.notes)


def test_r1_on_910b_is_w8a8_across_two_atlas_800i_a2() -> None:
    with pytest.raises(PlanImpossible, match="needs ≥ 2 nodes of 8×910B/910C"):
        _plan("8x910B", "r1")
    p = _plan("8x910B", "r1", nodes=2)
    assert (p.quantization, p.tensor_parallel, p.pipeline_parallel) == ("w8a8", 8, 2)
    assert _value(_flags(p), "--quantization") == "ascend"


def test_mtp_is_planned_on_request_and_its_draft_head_costs_kv_room() -> None:
    plain = _plan("8xH200", "r1-0528")
    with_mtp = _plan("8xH200", "r1-0528", mtp=True)
    assert (plain.speculative_tokens, with_mtp.speculative_tokens) == (0, 1)
    # one MoE layer (11.5B at FP8) plus its own embedding and head copies, over 8 GPUs
    extra = with_mtp.weights_gib_per_gpu - plain.weights_gib_per_gpu
    assert extra == pytest.approx(1.78, abs=0.02)
    assert with_mtp.kv_capacity_tokens < plain.kv_capacity_tokens
    # a model without a draft head ignores the request
    assert _plan("1xH200", "r1-0528-qwen3-8b", mtp=True).speculative_tokens == 0


# --- launch profiles against the recipes ----------------------------------------------


def test_v32_profile_matches_its_recipe() -> None:
    # recipes DeepSeek/DeepSeek-V3_2.md: vllm serve deepseek-ai/DeepSeek-V3.2
    #   --tensor-parallel-size 8 --tokenizer-mode deepseek_v32
    #   --tool-call-parser deepseek_v32 --reasoning-parser deepseek_v3
    argv = _flags(_plan("8xH20", "v3.2"))
    assert _value(argv, "--tensor-parallel-size") == "8"
    assert _value(argv, "--tokenizer-mode") == "deepseek_v32"
    assert _value(argv, "--tool-call-parser") == "deepseek_v32"
    assert _value(argv, "--reasoning-parser") == "deepseek_v3"
    assert "--enable-auto-tool-choice" in argv
    assert _value(argv, "--kv-cache-dtype") == "fp8"
    assert "--quantization" not in argv and "--speculative-config" not in argv


@pytest.mark.parametrize(("key", "gpus"), [("v4-flash", "8xH20"), ("v4-pro", "8xH200")])
def test_v4_profiles_match_the_recipe(key: str, gpus: str) -> None:
    # recipes DeepSeek/DeepSeek-V4-AMD.md, feature toggles: --tokenizer-mode deepseek_v4
    #   --tool-call-parser deepseek_v4 --enable-auto-tool-choice; --reasoning-parser
    #   deepseek_v4; --kv-cache-dtype fp8; speculative decoding disabled.
    argv = _flags(_plan(gpus, key))
    assert _value(argv, "--tokenizer-mode") == "deepseek_v4"
    assert _value(argv, "--tool-call-parser") == "deepseek_v4"
    assert _value(argv, "--reasoning-parser") == "deepseek_v4"
    assert "--enable-auto-tool-choice" in argv and "--enable-expert-parallel" in argv
    assert _value(argv, "--kv-cache-dtype") == "fp8"
    assert "--speculative-config" not in argv and "--quantization" not in argv


def test_v31_profile_matches_its_recipe() -> None:
    # recipes DeepSeek/DeepSeek-V3_1.md: vllm serve deepseek-ai/DeepSeek-V3.1
    #   --enable-expert-parallel --tensor-parallel-size 8; thinking through
    #   chat_template_kwargs {"thinking": ...}, which the deepseek_v3 reasoning parser reads.
    argv = _flags(_plan("8xH20-141G", "v3.1"))
    assert _value(argv, "--tensor-parallel-size") == "8"
    assert "--enable-expert-parallel" in argv
    assert _value(argv, "--reasoning-parser") == "deepseek_v3"
    assert "--tokenizer-mode" not in argv and "--tool-call-parser" not in argv


def test_r1_0528_profiles_with_and_without_mtp() -> None:
    argv = _flags(_plan("8xH200", "r1-0528", mtp=True))
    assert _value(argv, "--reasoning-parser") == "deepseek_r1"
    # vLLM docs, features/speculative_decoding/mtp.md
    spec = json.loads(_value(argv, "--speculative-config"))
    assert spec == {"method": "mtp", "num_speculative_tokens": 1}
    small = _flags(_plan("1xH200", "r1-0528-qwen3-8b"))
    assert _value(small, "--reasoning-parser") == "deepseek_r1"
    assert "--enable-expert-parallel" not in small and "--tokenizer-mode" not in small
