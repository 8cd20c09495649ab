"""``appliance render-launch``, as the ``vllm`` role calls it on a node: JSON of the replicas
to start, or a one-line reason and exit 1."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from appliance.cli.main import app

runner = CliRunner()
BASE = ["render-launch", "--model-dir", "/srv/models/r1", "--served-model-name", "deepseek-r1"]


def _launch(*extra: str) -> dict[str, Any]:
    result = runner.invoke(app, [*BASE, *extra])
    assert result.exit_code == 0, result.output
    rendered: dict[str, Any] = json.loads(result.output)
    return rendered


def test_a_cpu_node_gets_one_cpu_replica_on_the_given_address() -> None:
    rendered = _launch("--host", "10.0.0.5", "--cpus", "4")
    [replica] = rendered["replicas"]
    assert (rendered["device"], rendered["ray"]) == ("cpu", None)
    assert (replica["name"], replica["port"], replica["gpus"]) == ("vllm-0", 8011, [])
    args = replica["args"]
    assert args[:2] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert args[args.index("--host") + 1] == "10.0.0.5"
    assert args[args.index("--served-model-name") + 1] == "deepseek-r1"
    assert replica["env"]["HF_HUB_OFFLINE"] == "1"


def test_a_gpu_node_gets_one_replica_per_gpu_group_on_consecutive_ports() -> None:
    rendered = _launch("--gpus", "8xL40S", "--model", "distill-qwen-7b", "--base-port", "9000")
    replicas = rendered["replicas"]
    assert rendered["device"] == "cuda"
    assert [r["port"] for r in replicas] == list(range(9000, 9000 + len(replicas)))
    assert sorted(g for r in replicas for g in r["gpus"]) == list(range(8))
    assert all(r["env"]["CUDA_VISIBLE_DEVICES"] for r in replicas)
    assert rendered["plan"]["model"] == "distill-qwen-7b"


def test_an_unknown_gpu_is_refused_naming_the_known_ones() -> None:
    result = runner.invoke(app, [*BASE, "--gpus", "8xB300X"])
    assert result.exit_code == 1
    assert result.output.startswith("error: unknown GPU 'B300X'; known: H200, H100")


def test_a_model_that_cannot_fit_is_refused_with_the_reason() -> None:
    result = runner.invoke(app, [*BASE, "--gpus", "1xL20", "--model", "r1"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
