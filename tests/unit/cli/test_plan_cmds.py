"""`appliance plan` as an admin runs it: flags or an Ansible inventory in, a table out."""

import json
from pathlib import Path

from typer.testing import CliRunner

from appliance.cli.main import app

runner = CliRunner()


def test_plan_prints_the_recommendation_for_eight_h20() -> None:
    result = runner.invoke(app, ["plan", "--gpus", "8xH20"])
    assert result.exit_code == 0, result.output
    assert "DeepSeek-R1 671B" in result.output
    assert "124,273 tokens" in result.output
    assert "kv_cache_dtype" in result.output


def test_plan_refuses_an_impossible_request_with_the_reason() -> None:
    result = runner.invoke(
        app, ["plan", "--gpus", "8xH100", "--model", "r1", "--quantization", "fp8"]
    )
    assert result.exit_code == 1
    assert "needs ≥ 8×H200/H20/H20-141G, or 2 nodes of 8×H100" in result.output


def test_plan_json_carries_the_vllm_arguments() -> None:
    result = runner.invoke(
        app,
        ["plan", "--gpus", "1xH200", "--model", "distill-qwen-7b", "--context", "2048", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["model"], data["quantization"], data["max_model_len"]) == (
        "distill-qwen-7b",
        "fp8",
        2048,
    )
    args = data["vllm_args"]
    assert args[args.index("--quantization") + 1] == "fp8"


def test_plan_reads_gpus_from_an_ansible_inventory(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "vllm.yml").write_text('vllm_gpus: "8xH100"\n')
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    vllm:\n      hosts:\n        gpu1: {}\n        gpu2: {}\n"
    )
    result = runner.invoke(app, ["plan", "--inventory", str(tmp_path), "--model", "r1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["gpu"], data["gpus_per_node"], data["nodes"]) == ("H100", 8, 2)
    assert (data["quantization"], data["pipeline_parallel"]) == ("fp8", 2)


def test_plan_counts_ini_inventory_hosts_and_honours_vllm_nodes(tmp_path: Path) -> None:
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "group_vars" / "all" / "gpu.yml").write_text("vllm_gpus: 8xA100-80G\n")
    (tmp_path / "hosts.ini").write_text("[vllm]\ngpu1\ngpu2  # rack 3\n\n[db]\ndb1\n")
    ini = runner.invoke(app, ["plan", "--inventory", str(tmp_path / "hosts.ini"), "--json"])
    assert json.loads(ini.output)["nodes"] == 2
    (tmp_path / "group_vars" / "vllm.yml").write_text("vllm_nodes: 1\n")
    one = runner.invoke(app, ["plan", "--inventory", str(tmp_path), "--json"])
    assert json.loads(one.output)["nodes"] == 1


def test_plan_without_gpu_facts_says_what_to_set(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "--inventory", str(tmp_path)])
    assert result.exit_code == 1
    assert "vllm_gpus" in result.output


def test_plan_sizes_v4_flash_on_eight_h20_with_its_parallelism() -> None:
    result = runner.invoke(app, ["plan", "--gpus", "8xH20", "--model", "v4-flash"])
    assert result.exit_code == 0, result.output
    assert "DeepSeek-V4-Flash 284B" in result.output
    assert "expert parallel" in result.output
    assert "4 x 2 GPU(s)" in result.output
    assert "723,210 tokens" in result.output
    assert "not verified" in result.output


def test_plan_on_eight_910b_names_what_fits_and_why_v4_does_not() -> None:
    fits = runner.invoke(app, ["plan", "--gpus", "8x910B", "--json"])
    assert fits.exit_code == 0, fits.output
    data = json.loads(fits.output)
    assert (data["model"], data["quantization"], data["replicas"]) == (
        "distill-llama-70b",
        "bf16",
        2,
    )
    refused = runner.invoke(app, ["plan", "--gpus", "8x910B", "--model", "v4-flash"])
    assert refused.exit_code == 1
    assert "sparse-attention kernels" in refused.output


def test_plan_mtp_flag_adds_the_draft_head() -> None:
    result = runner.invoke(
        app, ["plan", "--gpus", "8xH200", "--model", "r1-0528", "--mtp", "--json"]
    )
    assert result.exit_code == 0, result.output
    args = json.loads(result.output)["vllm_args"]
    assert json.loads(args[args.index("--speculative-config") + 1])["method"] == "mtp"
