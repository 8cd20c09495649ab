"""The plan becomes vLLM's command line through one function."""

from appliance.sizing.catalog import Quantization, model
from appliance.sizing.gpus import GPUS
from appliance.sizing.launch_profile import to_launch_profile, vllm_arguments, vllm_command
from appliance.sizing.planner import Inventory, PlanRequest, plan


def _args(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


def test_a_bf16_checkpoint_planned_in_fp8_is_quantized_at_load() -> None:
    p = plan(
        PlanRequest(
            Inventory(GPUS["H200"], 1), 8192, 20, model("distill-qwen-7b"), Quantization.FP8
        )
    )
    profile = to_launch_profile(p, "/srv/models/r1q7b", served_model_name="r1q7b", port=8000)
    args = _args(vllm_arguments(profile))
    assert args["--quantization"] == "fp8"
    assert args["--max-model-len"] == "8192"
    assert args["--tensor-parallel-size"] == "1"
    assert args["--gpu-memory-utilization"] == "0.90"
    assert args["--max-num-seqs"] == str(p.max_num_seqs)
    assert args["--reasoning-parser"] == "deepseek_r1"
    assert args["--host"] == "127.0.0.1"
    assert "--kv-cache-dtype" not in args


def test_r1_keeps_its_own_fp8_config_and_gets_the_moe_allocator_setting() -> None:
    p = plan(PlanRequest(Inventory(GPUS["H20"], 8), 32768, 20, model("r1"), Quantization.FP8))
    profile = to_launch_profile(p, "/srv/models/r1", served_model_name="deepseek-r1")
    args = _args(vllm_command(profile, python="python3"))
    assert "--quantization" not in args
    assert args["--kv-cache-dtype"] == "fp8"
    assert args["--tensor-parallel-size"] == "8"
    assert profile.env["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"


def test_a_replica_across_nodes_uses_ray() -> None:
    p = plan(PlanRequest(Inventory(GPUS["A100-80G"], 8, 2), 32768, 20, model("r1"), None))
    profile = to_launch_profile(p, "/srv/models/r1", served_model_name="deepseek-r1")
    args = _args(vllm_arguments(profile))
    assert args["--pipeline-parallel-size"] == "2"
    assert args["--distributed-executor-backend"] == "ray"


def test_int4_checkpoints_let_vllm_choose_the_kernel() -> None:
    p = plan(
        PlanRequest(
            Inventory(GPUS["RTX4090"], 1), 8192, 20, model("distill-qwen-7b"), Quantization.AWQ
        )
    )
    profile = to_launch_profile(p, "/srv/models/q7-awq", served_model_name="r1q7b")
    assert profile.quantization is None
