"""Capacity planner: from the GPUs an admin owns to a model, a layout and vLLM's limits.

It answers the two questions customers ask first: which model and quantization fit these
GPUs, and how many staff can use it at once at a given per-user speed. The model is a
memory one, because that is what bounds LLM serving on these GPUs:

* memory per GPU: ``memory * gpu_memory_utilization`` holds the weights (sharded over the
  tensor- and pipeline-parallel ranks), a fixed reserve for activations and CUDA graphs,
  and the KV cache in what is left;
* decode speed: every step streams the weights the batch touches plus every sequence's KV
  cache from HBM. The *ceiling* is bytes / peak bandwidth. The *expected* speed uses the
  bandwidth vLLM actually reaches (90% of peak) plus a fixed per-step cost, both fitted to
  the R1-Distill-Qwen-7B measurements on one H200 (ops/benchmarks/gpu-h200.md:
  FP8 3.49 ms and BF16 4.82 ms per token at batch 1, predicted 3.39 and 4.90 ms).

What a card can run comes before what fits: a format the card cannot run (FP8 on Ascend or
Hygon, MXFP4 experts off Hopper, int4 Marlin off CUDA) or a sparse-attention model
(DeepSeek-V3.2, V4) off Hopper is refused with the reason, never planned. MoE models over
several GPUs run expert-parallel (``--enable-expert-parallel``, as the V3.1 recipe does);
GPUs beyond one replica's serve further data-parallel replicas. MTP speculative decoding
is planned only on request (``PlanRequest.mtp``): the vLLM recipes of V3.2 and V4 leave it
off, and its draft head's weights then come out of the KV cache's room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from appliance.errors import InvalidRequest
from appliance.sizing.catalog import GIB, MODELS, ModelArch
from appliance.sizing.catalog import Quantization as Q
from appliance.sizing.gpus import GPUS, Backend, Fp8, GpuSpec, Interconnect
from appliance.sizing.kvcache import KvCacheDtype, kv_bytes_per_token_per_gpu

GPU_MEMORY_UTILIZATION = 0.90
# Activations of a prefill chunk and CUDA graphs, per GPU, outside weights and KV cache.
# MoE models need more: the 8-layer R1 slice on the H200 used 4.45 GiB for graphs alone.
RESERVE_GIB_DENSE = 2.0
RESERVE_GIB_MOE = 4.0
BANDWIDTH_EFFICIENCY = 0.90
STEP_OVERHEAD_S = 1.6e-3
# Two all-reduces per layer per decode step under tensor parallelism.
# HCCS (Ascend) is not measured here: it gets the PCIe figure, the conservative one.
ALLREDUCE_LATENCY_S = {
    Interconnect.NVLINK: 10e-6,
    Interconnect.PCIE: 30e-6,
    Interconnect.HCCS: 30e-6,
}
# FP8 KV cache costs a little accuracy: spend it only when BF16 holds fewer full-context
# sequences than this.
MIN_FULL_CONTEXT_SEQS = 8
MAX_NUM_SEQS_CAP = 256
MAX_NODES_SUGGESTED = 4
DEPLOY_ORDER = (
    "r1",
    "distill-llama-70b",
    "distill-qwen-32b",
    "distill-qwen-14b",
    "distill-llama-8b",
    "distill-qwen-7b",
    "distill-qwen-1.5b",
)


class PlanImpossible(InvalidRequest):
    """The inventory cannot serve the request; the message says what would."""

    code = "plan_impossible"


@dataclass(frozen=True, slots=True)
class Inventory:
    gpu: GpuSpec
    gpus_per_node: int
    nodes: int = 1

    def __str__(self) -> str:
        per_node = f"{self.gpus_per_node}×{self.gpu.key}"
        return per_node if self.nodes == 1 else f"{self.nodes} nodes of {per_node}"


@dataclass(frozen=True, slots=True)
class PlanRequest:
    inventory: Inventory
    context: int = 32768
    min_tps: float = 20.0
    model: ModelArch | None = None
    quantization: Q | None = None
    mtp: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A recommendation; per-replica figures unless named otherwise."""

    model: ModelArch
    quantization: Q
    inventory: Inventory
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int
    max_model_len: int
    gpu_memory_utilization: float
    kv_cache_dtype: KvCacheDtype
    max_num_seqs: int
    weights_gib_per_gpu: float
    kv_cache_gib_per_gpu: float
    kv_capacity_tokens: int
    max_full_context_seqs: int
    decode_ceiling_tps: float
    expected_tps: float
    users_at_target: int
    notes: tuple[str, ...]
    expert_parallel: bool = False
    speculative_tokens: int = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    tp: int
    pp: int


def _valid_tp(arch: ModelArch, tp: int) -> bool:
    """vLLM splits attention heads evenly; KV heads are split or replicated whole. A stated
    model's head count is not verified: every power-of-two size is tried."""
    if arch.stated is not None:
        return True
    kv_ok = arch.kv_heads % tp == 0 or tp % arch.kv_heads == 0
    return arch.heads % tp == 0 and kv_ok


def _layouts(arch: ModelArch, inv: Inventory) -> list[_Layout]:
    """Single-node layouts from the smallest TP up, then pipeline stages across nodes."""
    tps = [t for t in (1, 2, 4, 8, 16) if t <= inv.gpus_per_node and _valid_tp(arch, t)]
    layouts = [_Layout(tp, 1) for tp in tps]
    layouts += [_Layout(tps[-1], pp) for pp in range(2, inv.nodes + 1)]
    return layouts


def _weights(arch: ModelArch, quant: Q, *, mtp: bool) -> float:
    """Bytes of weights a replica loads: the model and, with MTP, its draft head."""
    return arch.weight_bytes(quant) + (arch.mtp_weight_bytes(quant) if mtp else 0.0)


def _kv_free_bytes(
    arch: ModelArch, quant: Q, gpu: GpuSpec, layout: _Layout, *, mtp: bool = False
) -> float:
    reserve = RESERVE_GIB_MOE if arch.is_moe else RESERVE_GIB_DENSE
    usable = gpu.memory_bytes * GPU_MEMORY_UTILIZATION - reserve * GIB
    return usable - _weights(arch, quant, mtp=mtp) / (layout.tp * layout.pp)


def _kv_dtype(
    arch: ModelArch,
    quant: Q,
    gpu: GpuSpec,
    layout: _Layout,
    context: int,
    *,
    mtp: bool = False,
) -> KvCacheDtype | None:
    """BF16 KV unless it holds too few full-context sequences and FP8 is native; None if
    not even one sequence fits. Sparse-attention models (V3.2, V4) cache in FP8, vLLM's
    default for them (V4 has no other)."""
    free = _kv_free_bytes(arch, quant, gpu, layout, mtp=mtp)
    if arch.needs_sparse_kernels:
        options = [KvCacheDtype.FP8]
    else:
        options = [KvCacheDtype.AUTO] + ([KvCacheDtype.FP8] if gpu.native_fp8 else [])
    chosen: KvCacheDtype | None = None
    for dtype in options:
        per_token = kv_bytes_per_token_per_gpu(
            arch, dtype, tensor_parallel=layout.tp, pipeline_parallel=layout.pp
        )
        seqs = math.floor(max(free, 0) / per_token) // context
        if seqs >= 1:
            chosen = dtype
        if seqs >= MIN_FULL_CONTEXT_SEQS:
            break
    return chosen


def step_seconds(
    arch: ModelArch,
    quant: Q,
    gpu: GpuSpec,
    *,
    tp: int,
    pp: int,
    kv_dtype: KvCacheDtype,
    batch: int,
    kv_tokens: int,
    ideal: bool = False,
) -> float:
    """Time of one decode step for ``batch`` sequences holding ``kv_tokens`` tokens in all.

    Pipeline stages run one after another for a given sequence, so per-GPU bytes of all
    stages add up; TP ranks stream their shares in parallel. ``ideal`` gives the pure
    bandwidth bound (peak bandwidth, no fixed costs).
    """
    kv_per_gpu = kv_bytes_per_token_per_gpu(
        arch, kv_dtype, tensor_parallel=tp, pipeline_parallel=pp
    )
    per_gpu = arch.streamed_weight_bytes(quant, batch) / tp + pp * kv_tokens * kv_per_gpu
    if ideal:
        return per_gpu / gpu.bandwidth_bytes_s
    comm = 2 * arch.layers * ALLREDUCE_LATENCY_S[gpu.interconnect] if tp > 1 else 0.0
    return STEP_OVERHEAD_S + comm + per_gpu / (gpu.bandwidth_bytes_s * BANDWIDTH_EFFICIENCY)


def _batch_at_speed(
    *,
    arch: ModelArch,
    quant: Q,
    gpu: GpuSpec,
    layout: _Layout,
    kv: KvCacheDtype,
    context: int,
    capacity: int,
    min_tps: float,
    limit: int,
) -> int:
    """Largest batch (up to ``limit``) whose sequences each still decode at ``min_tps``
    when each holds ``context`` tokens, the cache holding at most ``capacity`` in all."""
    users = 0
    for batch in range(1, limit + 1):
        kv_tokens = min(batch * context, capacity)
        step = step_seconds(
            arch,
            quant,
            gpu,
            tp=layout.tp,
            pp=layout.pp,
            kv_dtype=kv,
            batch=batch,
            kv_tokens=kv_tokens,
        )
        if step > 1 / min_tps:
            break
        users = batch
    return users


def _try(request: PlanRequest, arch: ModelArch, quant: Q, layout: _Layout) -> Plan | float | None:
    """A plan, or the best speed reachable if it fits but is too slow, or None if it does not
    fit."""
    inv, context = request.inventory, request.context
    mtp = request.mtp and arch.mtp_layers > 0
    kv = _kv_dtype(arch, quant, inv.gpu, layout, context, mtp=mtp)
    if kv is None:
        return None

    def batch1(*, ideal: bool) -> float:
        return 1 / step_seconds(
            arch,
            quant,
            inv.gpu,
            tp=layout.tp,
            pp=layout.pp,
            kv_dtype=kv,
            batch=1,
            kv_tokens=context,
            ideal=ideal,
        )

    expected = batch1(ideal=False)
    if expected < request.min_tps:
        return expected
    ceiling = batch1(ideal=True)
    free = _kv_free_bytes(arch, quant, inv.gpu, layout, mtp=mtp)
    per_token = kv_bytes_per_token_per_gpu(
        arch, kv, tensor_parallel=layout.tp, pipeline_parallel=layout.pp
    )
    capacity = math.floor(free / per_token)
    full_seqs = capacity // context

    def at_speed(limit: int) -> int:
        return _batch_at_speed(
            arch=arch,
            quant=quant,
            gpu=inv.gpu,
            layout=layout,
            kv=kv,
            context=context,
            capacity=capacity,
            min_tps=request.min_tps,
            limit=limit,
        )

    # Staff at full context, each at the target speed: the planning answer.
    users = at_speed(full_seqs)
    # The scheduler's cap: as many sequences as keep the speed even with the cache full
    # (requests shorter than the full context are the common case).
    max_num_seqs = at_speed(MAX_NUM_SEQS_CAP)
    replicas = (
        inv.nodes * (inv.gpus_per_node // layout.tp) if layout.pp == 1 else inv.nodes // layout.pp
    )
    return Plan(
        model=arch,
        quantization=quant,
        inventory=inv,
        tensor_parallel=layout.tp,
        pipeline_parallel=layout.pp,
        replicas=replicas,
        max_model_len=context,
        gpu_memory_utilization=GPU_MEMORY_UTILIZATION,
        kv_cache_dtype=kv,
        max_num_seqs=max(1, max_num_seqs),
        weights_gib_per_gpu=_weights(arch, quant, mtp=mtp) / (layout.tp * layout.pp) / GIB,
        kv_cache_gib_per_gpu=free / GIB,
        kv_capacity_tokens=capacity,
        max_full_context_seqs=full_seqs,
        decode_ceiling_tps=ceiling,
        expected_tps=expected,
        users_at_target=users,
        notes=_notes(arch, quant, inv.gpu, layout, kv, mtp=mtp),
        expert_parallel=arch.is_moe and layout.tp > 1,
        speculative_tokens=arch.mtp_layers if mtp else 0,
    )


def _notes(
    arch: ModelArch, quant: Q, gpu: GpuSpec, layout: _Layout, kv: KvCacheDtype, *, mtp: bool
) -> tuple[str, ...]:
    notes = []
    if quant is Q.FP8 and not gpu.native_fp8:
        notes.append(f"{gpu.key} has no FP8 tensor cores: FP8 weights run weight-only (Marlin)")
    if kv is KvCacheDtype.FP8 and arch.needs_sparse_kernels:
        notes.append("FP8 KV cache: vLLM's default for sparse attention (fp8_ds_mla)")
    elif kv is KvCacheDtype.FP8:
        notes.append("FP8 KV cache: BF16 would hold too few full-context sequences")
    if quant is Q.MXFP4:
        notes.append(f"FP4 experts on {gpu.key} run through dequantizing kernels (not native)")
    if arch.is_moe and layout.tp > 1:
        notes.append(f"expert parallel over the {layout.tp} GPUs of a replica")
    if mtp:
        notes.append("MTP speculative decoding: its gain is not in the expected speed")
    notes += _provenance_notes(arch, gpu)
    if layout.tp > 1 and gpu.interconnect is Interconnect.PCIE:
        notes.append("tensor parallelism over PCIe: all-reduces cost more than on NVLink")
    if layout.pp > 1:
        notes.append(f"one replica spans {layout.pp} nodes (pipeline stages; needs Ray)")
    if arch.is_moe and layout.tp > 1:
        notes.append("MoE over TP: expected speed is a bandwidth estimate, an upper bound")
    if quant in (Q.AWQ, Q.GPTQ):
        notes.append("int4 checkpoint: vLLM picks the Marlin kernel from its config")
    return tuple(notes)


def _provenance_notes(arch: ModelArch, gpu: GpuSpec) -> list[str]:
    """Where the figures are estimates, and which vLLM build serves the card."""
    notes = []
    if arch.stated is not None:
        notes.append(
            f"estimate: {arch.name}'s config.json was not verified "
            f"({', '.join(arch.stated.unverified)})"
        )
    if gpu.source != "vendor data sheet":
        notes.append(f"{gpu.key}'s memory figures are {gpu.source}")
    if gpu.backend is Backend.ASCEND:
        notes.append("served by vllm-ascend (the same command line; W8A8 needs msmodelslim)")
    elif gpu.backend is Backend.DCU:
        notes.append("served by Hygon's DTK build of vLLM")
    return notes


def unsupported(arch: ModelArch, quant: Q, gpu: GpuSpec) -> str | None:
    """Why ``gpu`` cannot run ``arch`` in ``quant`` under vLLM, or None if it can."""
    if arch.needs_sparse_kernels and not gpu.sparse_attention:
        return (
            f"{arch.name} needs vLLM's sparse-attention kernels (FlashMLA sparse, DeepGEMM), "
            f"which run on Hopper or newer; {gpu.key} has none"
        )
    if quant is Q.FP8 and gpu.fp8 is Fp8.NONE:
        return f"{gpu.key} has no FP8 support: {arch.name} cannot run as FP8 on it"
    if quant is Q.MXFP4 and not gpu.fp4_experts:
        return f"{gpu.key} cannot run {arch.name}'s MXFP4 (FP4) experts"
    if quant in (Q.AWQ, Q.GPTQ) and not gpu.int4_marlin:
        return f"{gpu.key} has no Marlin int4 kernels (vLLM's CUDA build only)"
    if quant is Q.W8A8 and gpu.backend is not Backend.ASCEND:
        return "W8A8 checkpoints are vllm-ascend's (Ascend NPUs only)"
    return None


def _quant_order(arch: ModelArch, gpu: GpuSpec) -> list[Q]:
    """Highest fidelity first; native FP8 is near-lossless and twice as fast as BF16. A
    format the card cannot run is left out."""
    order = [Q.FP8, Q.BF16] if gpu.native_fp8 else [Q.BF16, Q.FP8]
    order += [Q.MXFP4, Q.AWQ, Q.GPTQ, Q.W8A8]
    return [q for q in order if q in arch.quantizations and unsupported(arch, q, gpu) is None]


def _minimal_layouts(arch: ModelArch, quant: Q, context: int) -> str:
    """The smallest inventories of each catalogued GPU that hold the variant, grouped:
    '8×H200/H20, or 2 nodes of 8×H100/H800/A100-80G/A800-80G'."""
    groups: dict[tuple[int, int], list[str]] = {}
    for gpu in GPUS.values():
        if unsupported(arch, quant, gpu) is not None:
            continue
        shapes = [Inventory(gpu, n) for n in (1, 2, 4, 8)]
        shapes += [Inventory(gpu, 8, nodes) for nodes in range(2, MAX_NODES_SUGGESTED + 1)]
        for inv in shapes:
            layout = _layouts(arch, inv)[-1]
            if _kv_dtype(arch, quant, gpu, layout, context) is not None:
                groups.setdefault((inv.nodes, inv.gpus_per_node), []).append(gpu.key)
                break
    ordered = sorted(groups.items(), key=lambda item: item[0][0] * item[0][1])
    shapes_text = []
    for (nodes, per_node), keys in ordered[:3]:
        text = f"{per_node}×{'/'.join(keys)}"
        shapes_text.append(text if nodes == 1 else f"{nodes} nodes of {text}")
    return ", or ".join(shapes_text)


def _refusal(request: PlanRequest, arch: ModelArch, quant: Q, best_speed: float | None) -> str:
    inv = request.inventory
    label = f"{arch.name} {quant.value.upper()}"
    if best_speed is not None:
        return (
            f"{label} decodes at most ~{best_speed:.0f} tok/s per user on {inv} "
            f"(target {request.min_tps:g})"
        )
    where = _minimal_layouts(arch, quant, request.context)
    need = f"needs ≥ {where}" if where else "fits no catalogued inventory"
    reserve = RESERVE_GIB_MOE if arch.is_moe else RESERVE_GIB_DENSE
    usable = inv.gpu.memory_gib * GPU_MEMORY_UTILIZATION - reserve
    return (
        f"{label} with {request.context}-token context {need}: its weights take "
        f"{arch.weight_bytes(quant) / GIB:.0f} GiB and {inv} has "
        f"{usable * inv.gpus_per_node * inv.nodes:.0f} GiB for weights and KV cache"
    )


def _plan_variant(request: PlanRequest, arch: ModelArch, quant: Q) -> Plan | str:
    if request.context > arch.max_context:
        return f"{arch.name} supports at most {arch.max_context} tokens of context"
    reason = unsupported(arch, quant, request.inventory.gpu)
    if reason is not None:
        return reason
    best: float | None = None
    for layout in _layouts(arch, request.inventory):
        result = _try(request, arch, quant, layout)
        if isinstance(result, Plan):
            return result
        if result is not None:
            best = max(best or 0.0, result)
    return _refusal(request, arch, quant, best)


def plan(request: PlanRequest) -> Plan:
    """The best model the inventory serves at the requested context and per-user speed.

    Models are tried from the most capable down and formats from the highest fidelity down;
    the first that fits and meets the speed wins, on the smallest tensor-parallel size that
    does (the remaining GPUs serve further replicas). Raises `PlanImpossible` with the
    reason, naming inventories that would work when memory is what is missing.
    """
    if request.context < 1 or request.min_tps <= 0:
        raise PlanImpossible("context and per-user speed must be positive")
    models = [request.model] if request.model else [MODELS[k] for k in DEPLOY_ORDER]
    reasons: list[str] = []
    for arch in models:
        quants = (
            [request.quantization]
            if request.quantization
            else _quant_order(arch, request.inventory.gpu)
        )
        if not quants:
            gpu = request.inventory.gpu
            reasons += [r for q in arch.quantizations if (r := unsupported(arch, q, gpu))]
        for quant in quants:
            if quant not in arch.quantizations:
                reasons.append(f"{arch.name} is not offered as {quant.value.upper()}")
                continue
            result = _plan_variant(request, arch, quant)
            if isinstance(result, Plan):
                return result
            reasons.append(result)
    if request.model is None:
        raise PlanImpossible(
            f"no catalogued model serves {request.inventory} at {request.context} tokens and "
            f"{request.min_tps:g} tok/s per user; the smallest: {reasons[-1]}"
        )
    raise PlanImpossible("; ".join(dict.fromkeys(reasons)))
