"""What the ``vllm`` role starts on one node, decided by ``appliance.sizing`` alone.

The role calls ``appliance render-launch`` with the node's hardware facts and gets JSON: one
entry per replica (systemd unit name, port, argv after the Python interpreter, environment,
GPUs). CPU-only nodes get the CPU profile; GPU nodes get the planner's profile, split into
as many replicas as fit; a plan that spans nodes (pipeline parallel) gets Ray settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from appliance.sizing.catalog import Quantization, model
from appliance.sizing.gpus import parse_gpus
from appliance.sizing.launch_profile import (
    LaunchProfile,
    cpu_demo_profile,
    to_launch_profile,
    vllm_arguments,
    vllm_environment,
)
from appliance.sizing.planner import Inventory, PlanRequest, plan

RAY_PORT = 6379


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the role knows about the node and the site."""

    model_dir: str
    served_model_name: str
    gpus: str | None = None  # e.g. "8xH20"; None or "" on CPU-only nodes
    nodes: int = 1
    node_index: int = 0
    head_address: str = ""
    cpus: int = 2
    host: str = "127.0.0.1"
    base_port: int = 8011
    context: int = 32768
    min_tps: float = 20.0
    model_key: str | None = None
    quantization: str | None = None


def _replica(name: str, profile: LaunchProfile, gpus: list[int]) -> dict[str, Any]:
    env = vllm_environment(profile)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    return {
        "name": name,
        "port": profile.port,
        "args": ["-m", "vllm.entrypoints.openai.api_server", *vllm_arguments(profile)],
        "env": env,
        "gpus": gpus,
    }


def render(facts: NodeFacts) -> dict[str, Any]:
    """The replicas (and Ray role, if any) of one node."""
    if not facts.gpus:
        profile = replace(
            cpu_demo_profile(
                facts.model_dir,
                served_model_name=facts.served_model_name,
                port=facts.base_port,
                cpus=facts.cpus,
                context=facts.context,
            ),
            host=facts.host,
        )
        return {"device": "cpu", "replicas": [_replica("vllm-0", profile, [])], "ray": None}
    count, gpu = parse_gpus(facts.gpus)
    arch = model(facts.model_key) if facts.model_key else None
    quant = Quantization(facts.quantization) if facts.quantization else None
    chosen = plan(
        PlanRequest(Inventory(gpu, count, facts.nodes), facts.context, facts.min_tps, arch, quant)
    )
    if chosen.pipeline_parallel > 1:
        # One replica spans the nodes: Ray head on node 0 runs the server, the rest join.
        head = facts.node_index == 0
        profile = to_launch_profile(
            chosen,
            facts.model_dir,
            served_model_name=facts.served_model_name,
            port=facts.base_port,
            host=facts.host,
        )
        replicas = [_replica("vllm-0", profile, list(range(count)))] if head else []
        ray = {
            "head": head,
            "address": f"{facts.head_address}:{RAY_PORT}",
            "port": RAY_PORT,
            "nodes": facts.nodes,
            "gpus_per_node": count,
        }
        return {"device": "cuda", "replicas": replicas, "ray": ray, "plan": _plan_summary(chosen)}
    width = chosen.tensor_parallel
    replicas = []
    for index in range(count // width):
        profile = to_launch_profile(
            chosen,
            facts.model_dir,
            served_model_name=facts.served_model_name,
            port=facts.base_port + index,
            host=facts.host,
        )
        gpus = list(range(index * width, (index + 1) * width))
        replicas.append(_replica(f"vllm-{index}", profile, gpus))
    return {"device": "cuda", "replicas": replicas, "ray": None, "plan": _plan_summary(chosen)}


def _plan_summary(chosen: Any) -> dict[str, Any]:
    return {
        "model": chosen.model.key,
        "quantization": chosen.quantization.value,
        "tensor_parallel": chosen.tensor_parallel,
        "pipeline_parallel": chosen.pipeline_parallel,
        "max_model_len": chosen.max_model_len,
    }
