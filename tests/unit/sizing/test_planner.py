"""The planner against hand-computed cases, one or more for every catalogued GPU.

The arithmetic, for reading along (GiB = 2**30):
usable per GPU = memory x 0.90 - reserve (2 GiB dense, 4 GiB MoE);
KV room per GPU = usable - weights / (TP x PP); capacity = room // KV bytes per token per GPU;
batch-1 ceiling = peak bandwidth / (streamed weights / TP + context x KV bytes per token).
Weights: linear params x bytes (FP8 1, BF16 2, int4 0.51953125) + BF16 embeddings and head.
"""

import pytest

from appliance.sizing.catalog import Quantization, model
from appliance.sizing.gpus import GPUS
from appliance.sizing.kvcache import KvCacheDtype
from appliance.sizing.planner import Inventory, Plan, PlanImpossible, PlanRequest, plan

GIB = 2**30
QWEN7_LINEAR, QWEN7_EMBED = 6_525_288_448, 544_997_376
LLAMA8_LINEAR, LLAMA8_EMBED = 6_979_321_856, 525_336_576
R1_LINEAR, R1_ACTIVE_LINEAR, R1_EMBED = 669_172_039_680, 35_697_917_952, 926_679_040


def _plan(
    gpus: str,
    count: int,
    key: str | None,
    quant: Quantization | None,
    *,
    nodes: int = 1,
    context: int = 32768,
    tps: float = 20.0,
) -> Plan:
    arch = model(key) if key else None
    inventory = Inventory(GPUS[gpus], count, nodes)
    return plan(PlanRequest(inventory, context, tps, arch, quant))


def test_h200_serves_the_7b_distill_in_fp8_on_one_gpu() -> None:
    p = _plan("H200", 1, "distill-qwen-7b", Quantization.FP8)
    weights = QWEN7_LINEAR + 4 * QWEN7_EMBED  # 8,705,277,952 B = 8.107 GiB
    room = (141 * 0.9 - 2) * GIB - weights  # 116.79 GiB
    kv_token = 28 * 2 * 4 * 128 * 2  # 57,344 B
    assert (p.tensor_parallel, p.pipeline_parallel, p.replicas) == (1, 1, 1)
    assert p.kv_cache_dtype is KvCacheDtype.AUTO
    assert p.kv_capacity_tokens == int(room // kv_token) == 2_186_890
    assert p.max_full_context_seqs == 66
    streamed = QWEN7_LINEAR + 2 * QWEN7_EMBED + 32768 * kv_token
    assert p.decode_ceiling_tps == pytest.approx(4.8e12 / streamed)  # 505.6
    assert p.expected_tps == pytest.approx(1 / (1.6e-3 + streamed / (4.8e12 * 0.9)))  # 263.3


def test_h20_holds_r1_fp8_on_eight_gpus_with_an_fp8_kv_cache() -> None:
    p = _plan("H20", 8, "r1", Quantization.FP8)
    weights = R1_LINEAR + 4 * R1_EMBED  # 626.7 GiB
    room = (96 * 0.9 - 4) * GIB - weights / 8  # 4.07 GiB per GPU
    # BF16 latents (70,272 B/token) hold 1 full 32k sequence (< 8): FP8 halves them.
    assert p.kv_cache_dtype is KvCacheDtype.FP8
    assert p.kv_capacity_tokens == int(room // (61 * 576)) == 124_273
    assert (p.tensor_parallel, p.max_full_context_seqs) == (8, 3)
    streamed = (R1_ACTIVE_LINEAR + 2 * R1_EMBED) / 8 + 32768 * 61 * 576
    assert p.decode_ceiling_tps == pytest.approx(4.0e12 / streamed)  # 684
    assert p.users_at_target == 3
    # even with the cache full (4.07 GiB of latents) and every expert read, a step takes
    # about 27 ms (< 50 ms): the scheduler may admit 256 shorter requests
    assert p.max_num_seqs == 256


def test_h200_holds_r1_fp8_with_room_for_twenty_full_context_sequences() -> None:
    p = _plan("H200", 8, None, None)
    room = (141 * 0.9 - 4) * GIB - (R1_LINEAR + 4 * R1_EMBED) / 8  # 44.57 GiB
    assert (p.model.key, p.quantization, p.kv_cache_dtype) == ("r1", "fp8", "auto")
    assert p.kv_capacity_tokens == int(room // (61 * 576 * 2)) == 680_968
    assert p.max_full_context_seqs == 20


def test_h100_refuses_r1_fp8_on_one_node_and_names_what_would_work() -> None:
    with pytest.raises(PlanImpossible) as refused:
        _plan("H100", 8, "r1", Quantization.FP8)
    message = refused.value.message
    assert "DeepSeek-R1 671B FP8" in message
    assert "needs ≥ 8×H200/H20/H20-141G, or 2 nodes of 8×H100/H800/A100-80G/A800-80G" in message
    assert "8×H100 has 544 GiB" in message  # 8 x (80 x 0.9 - 4) against 627 GiB of weights


def test_h100_serves_r1_fp8_across_two_nodes_with_pipeline_stages() -> None:
    p = _plan("H100", 8, "r1", Quantization.FP8, nodes=2)
    assert (p.tensor_parallel, p.pipeline_parallel, p.replicas) == (8, 2, 1)
    assert any("2 nodes" in note for note in p.notes)


def test_h800_without_a_model_gets_r1_int4() -> None:
    p = _plan("H800", 8, None, None)
    assert (p.model.key, p.quantization, p.tensor_parallel) == ("r1", "awq", 8)
    weights = R1_LINEAR * 0.51953125 + 4 * R1_EMBED
    assert p.weights_gib_per_gpu == pytest.approx(weights / 8 / GIB)  # 40.9 GiB


def test_a100_80g_runs_r1_fp8_weight_only_on_two_nodes() -> None:
    p = _plan("A100-80G", 8, "r1", Quantization.FP8, nodes=2)
    room = (80 * 0.9 - 4) * GIB - (R1_LINEAR + 4 * R1_EMBED) / 16  # 28.83 GiB
    kv_token = 31 * 576 * 2  # the larger stage holds 31 layers; no FP8 KV on Ampere
    assert p.kv_cache_dtype is KvCacheDtype.AUTO
    assert p.kv_capacity_tokens == int(room // kv_token) == 866_922
    streamed = (R1_ACTIVE_LINEAR + 2 * R1_EMBED) / 8 + 2 * 32768 * kv_token
    assert p.decode_ceiling_tps == pytest.approx(2.039e12 / streamed)  # 290
    assert any("Marlin" in note for note in p.notes)


def test_a100_40g_serves_the_llama_8b_distill_in_bf16() -> None:
    p = _plan("A100-40G", 1, "distill-llama-8b", Quantization.BF16, context=8192)
    weights = 2 * LLAMA8_LINEAR + 4 * LLAMA8_EMBED  # 14.96 GiB
    kv_token = 32 * 2 * 8 * 128 * 2  # 131,072 B
    assert p.kv_capacity_tokens == int(((40 * 0.9 - 2) * GIB - weights) // kv_token) == 156_000
    streamed = 2 * LLAMA8_LINEAR + 2 * LLAMA8_EMBED + 8192 * kv_token
    assert p.decode_ceiling_tps == pytest.approx(1.555e12 / streamed)  # 96.7


def test_a800_80g_fits_one_32k_sequence_of_the_32b_distill_in_bf16() -> None:
    p = _plan("A800-80G", 1, "distill-qwen-32b", Quantization.BF16)
    weights = 2 * 31_205_621_760 + 4 * 778_567_680  # 61.03 GiB
    assert p.kv_capacity_tokens == int(((80 * 0.9 - 2) * GIB - weights) // 262_144) == 36_760
    assert (p.max_full_context_seqs, p.kv_cache_dtype) == (1, KvCacheDtype.AUTO)


def test_a800_40g_runs_one_14b_replica_per_gpu() -> None:
    p = _plan("A800-40G", 2, "distill-qwen-14b", Quantization.BF16, context=16384)
    weights = 2 * 13_212_057_600 + 4 * 778_567_680  # 27.51 GiB
    assert (p.tensor_parallel, p.replicas) == (1, 2)
    assert p.kv_capacity_tokens == int(((40 * 0.9 - 2) * GIB - weights) // 196_608) == 35_445


def test_l40s_keeps_a_bf16_kv_cache_when_it_holds_eight_sequences() -> None:
    p = _plan("L40S", 1, "distill-llama-8b", Quantization.FP8)
    room = (48 * 0.9 - 2) * GIB - (LLAMA8_LINEAR + 4 * LLAMA8_EMBED)  # 32.74 GiB
    assert p.kv_capacity_tokens == int(room // 131_072) == 268_230
    assert (p.max_full_context_seqs, p.kv_cache_dtype) == (8, KvCacheDtype.AUTO)
    streamed = LLAMA8_LINEAR + 2 * LLAMA8_EMBED + 32768 * 131_072
    assert p.decode_ceiling_tps == pytest.approx(0.864e12 / streamed)  # 70.1


def test_l20_without_a_model_gets_the_70b_distill_over_pcie() -> None:
    p = _plan("L20", 4, None, None)
    assert (p.model.key, p.quantization, p.tensor_parallel) == ("distill-llama-70b", "fp8", 4)
    assert p.kv_capacity_tokens == 318_295  # (48 x 0.9 - 2) GiB - 67.66 GiB / 4, / 81,920 B
    comm = 2 * 80 * 30e-6  # two all-reduces per layer over PCIe
    streamed = (68_451_041_280 + 2 * 1_050_673_152) / 4 + 32768 * 81_920
    assert p.expected_tps == pytest.approx(1 / (1.6e-3 + comm + streamed / (0.864e12 * 0.9)))
    assert any("PCIe" in note for note in p.notes)


def test_rtx_4090_serves_the_7b_distill_in_int4() -> None:
    p = _plan("RTX4090", 1, "distill-qwen-7b", Quantization.AWQ, context=8192, tps=30)
    weights = QWEN7_LINEAR * 0.51953125 + 4 * QWEN7_EMBED  # 5.19 GiB
    assert p.kv_capacity_tokens == int(((24 * 0.9 - 2) * GIB - weights) // 57_344) == 269_867
    streamed = QWEN7_LINEAR * 0.51953125 + 2 * QWEN7_EMBED + 8192 * 57_344
    assert p.decode_ceiling_tps == pytest.approx(1.008e12 / streamed)  # 203.6


def test_rtx_4090_refuses_r1() -> None:
    with pytest.raises(PlanImpossible, match=r"needs ≥ 8×H200/H20"):
        _plan("RTX4090", 8, "r1", None)


def test_a_speed_target_beyond_reach_is_refused_with_the_best_speed() -> None:
    with pytest.raises(PlanImpossible, match="decodes at most ~"):
        _plan("L40S", 1, "distill-qwen-1.5b", Quantization.AWQ, tps=5000)


def test_context_beyond_the_model_is_refused() -> None:
    with pytest.raises(PlanImpossible, match="at most 131072 tokens"):
        _plan("H200", 1, "distill-qwen-7b", None, context=200_000)


def test_a_format_the_model_is_not_offered_in_is_refused() -> None:
    with pytest.raises(PlanImpossible, match="not offered as BF16"):
        _plan("H200", 8, "r1", Quantization.BF16)


def test_larger_tensor_parallel_is_chosen_only_to_meet_the_speed() -> None:
    slow = _plan("L40S", 4, "distill-qwen-14b", Quantization.BF16, context=4096, tps=20)
    fast = _plan("L40S", 4, "distill-qwen-14b", Quantization.BF16, context=4096, tps=45)
    assert (slow.tensor_parallel, slow.replicas) == (1, 4)
    assert fast.tensor_parallel > 1
    assert fast.expected_tps >= 45


def test_nothing_fits_a_single_small_gpu_at_a_huge_context_and_speed() -> None:
    with pytest.raises(PlanImpossible, match="no catalogued model serves 1×RTX4090"):
        _plan("RTX4090", 1, None, None, context=131072, tps=400)
