"""Print the vLLM command the planner's launch profile gives for the proof run.

The same code path as the runtime and the Ansible role: plan the R1-Distill-Qwen-7B shape
on one H200 for the benchmark's requests (1,024 in + 512 out, so a 2,048-token context)
at 20 tok/s per user, then render the profile with dummy weights.

Usage: python3 render_profile.py fp8|bf16
"""

import shlex
import sys

from appliance.sizing.catalog import Quantization, model
from appliance.sizing.gpus import GPUS
from appliance.sizing.launch_profile import to_launch_profile, vllm_command
from appliance.sizing.planner import Inventory, Plan, PlanRequest, plan

CONTEXT = 2048


def proof_plan(quantization: str) -> Plan:
    """The plan for the proof run's model and requests on one H200."""
    request = PlanRequest(
        Inventory(GPUS["H200"], 1),
        context=CONTEXT,
        min_tps=20,
        model=model("distill-qwen-7b"),
        quantization=Quantization(quantization),
    )
    return plan(request)


def main(quantization: str) -> None:
    chosen = proof_plan(quantization)
    profile = to_launch_profile(
        chosen,
        "/tmp/model",
        served_model_name="r1q7b",
        port=8000,
        tokenizer="/tmp/tok",
        load_format="dummy",
    )
    ceiling = f"batch-1 ceiling {chosen.decode_ceiling_tps:.0f} tok/s"
    print(f"# plan: {ceiling}, expected {chosen.expected_tps:.0f} tok/s", file=sys.stderr)
    print(shlex.join(vllm_command(profile, python="python3")))


if __name__ == "__main__":
    main(sys.argv[1])
