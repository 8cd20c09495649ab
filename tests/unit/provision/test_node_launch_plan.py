"""The vllm role's launch plan comes from appliance.sizing."""

from __future__ import annotations

from appliance.provision.node_launch_plan import NodeFacts, render


def test_cpu_node_gets_the_cpu_profile() -> None:
    out = render(NodeFacts(model_dir="/m/smol", served_model_name="smol", cpus=2, host="10.0.0.2"))
    [replica] = out["replicas"]
    assert out["device"] == "cpu" and out["ray"] is None
    assert replica["args"][:2] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert "--enforce-eager" in replica["args"]
    assert replica["args"][replica["args"].index("--host") + 1] == "10.0.0.2"
    assert replica["env"]["VLLM_NO_USAGE_STATS"] == "1"
    assert replica["env"]["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"


def test_cpu_node_takes_the_sites_context_up_to_its_cap() -> None:
    def max_len(context: int) -> str:
        facts = NodeFacts(model_dir="/m/smol", served_model_name="smol", context=context)
        args = render(facts)["replicas"][0]["args"]
        return str(args[args.index("--max-model-len") + 1])

    assert max_len(2048) == "2048"
    assert max_len(32768) == "4096"


def test_gpu_node_splits_into_replicas_with_their_gpus() -> None:
    out = render(NodeFacts(model_dir="/m/r1", served_model_name="r1", gpus="8xL40S"))
    replicas = out["replicas"]
    width = out["plan"]["tensor_parallel"]
    assert len(replicas) == 8 // width
    assert [r["port"] for r in replicas] == [8011 + i for i in range(len(replicas))]
    assert replicas[-1]["env"]["CUDA_VISIBLE_DEVICES"].split(",")[-1] == "7"
    assert all("--reasoning-parser" in r["args"] for r in replicas)


def test_two_node_plan_renders_ray_head_and_worker() -> None:
    facts = dict(model_dir="/m/r1", served_model_name="r1", gpus="8xA100-80G", nodes=2,
                 model_key="r1", head_address="10.0.0.21")  # fmt: skip
    head = render(NodeFacts(**facts, node_index=0))  # type: ignore[arg-type]
    worker = render(NodeFacts(**facts, node_index=1))  # type: ignore[arg-type]
    assert head["ray"]["head"] and not worker["ray"]["head"]
    assert head["ray"]["address"] == "10.0.0.21:6379"
    assert len(head["replicas"]) == 1 and worker["replicas"] == []
    assert "ray" in head["replicas"][0]["args"]
