"""``appliance plan``: which model, quantization and vLLM limits these GPUs support."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from appliance.errors import InvalidRequest
from appliance.sizing.catalog import Quantization, model
from appliance.sizing.gpus import parse_gpus
from appliance.sizing.inventory import read_inventory
from appliance.sizing.launch_profile import to_launch_profile, vllm_arguments
from appliance.sizing.planner import Inventory, Plan, PlanRequest, plan


def _inventory(gpus: str | None, nodes: int | None, inventory: Path | None) -> Inventory:
    if inventory is not None:
        found = read_inventory(inventory)
        return found if nodes is None else Inventory(found.gpu, found.gpus_per_node, nodes)
    if gpus is None:
        raise InvalidRequest("say which GPUs: --gpus 8xH20 or --inventory PATH")
    count, gpu = parse_gpus(gpus)
    return Inventory(gpu, count, nodes or 1)


def _rows(p: Plan) -> list[tuple[str, str]]:
    per_gpu = f"{p.tensor_parallel * p.pipeline_parallel} GPU(s)"
    return [
        ("inventory", f"{p.inventory} ({p.inventory.gpu.name})"),
        ("model", f"{p.model.name} ({p.model.hf_repo})"),
        ("quantization", p.quantization.value.upper()),
        ("tensor / pipeline parallel", f"{p.tensor_parallel} / {p.pipeline_parallel}"),
        ("expert parallel", "yes" if p.expert_parallel else "no"),
        ("replicas (data parallel)", f"{p.replicas} x {per_gpu}"),
        ("MTP speculative tokens", str(p.speculative_tokens)),
        ("max_model_len", str(p.max_model_len)),
        ("gpu_memory_utilization", f"{p.gpu_memory_utilization:.2f}"),
        ("kv_cache_dtype", p.kv_cache_dtype.value),
        ("max_num_seqs", str(p.max_num_seqs)),
        ("weights per GPU", f"{p.weights_gib_per_gpu:.1f} GiB"),
        ("KV cache per GPU", f"{p.kv_cache_gib_per_gpu:.1f} GiB"),
        ("KV capacity per replica", f"{p.kv_capacity_tokens:,} tokens"),
        ("full-context sequences per replica", str(p.max_full_context_seqs)),
        ("batch-1 decode ceiling (bandwidth)", f"{p.decode_ceiling_tps:.0f} tok/s"),
        ("batch-1 decode expected", f"{p.expected_tps:.0f} tok/s"),
        ("users at target speed per replica", str(p.users_at_target)),
        *(("note", note) for note in p.notes),
    ]


def _as_json(p: Plan) -> dict[str, Any]:
    data = {k: v for k, v in asdict(p).items() if k not in ("model", "inventory", "notes")}
    profile = to_launch_profile(p, f"/models/{p.model.key}", served_model_name=p.model.key)
    return {
        **data,
        "model": p.model.key,
        "hf_repo": p.model.hf_repo,
        "gpu": p.inventory.gpu.key,
        "gpus_per_node": p.inventory.gpus_per_node,
        "nodes": p.inventory.nodes,
        "notes": list(p.notes),
        "vllm_args": vllm_arguments(profile),
    }


def plan_command(
    *,
    gpus: Annotated[str | None, typer.Option(help="GPUs per node, e.g. 8xH20.")] = None,
    nodes: Annotated[int | None, typer.Option(min=1, help="GPU nodes (default 1).")] = None,
    context: Annotated[int, typer.Option(min=1, help="Context length per request.")] = 32768,
    tps: Annotated[float, typer.Option(help="Per-user decode speed, tokens/s.")] = 20.0,
    model_name: Annotated[
        str | None, typer.Option("--model", help="Model key or Hugging Face name.")
    ] = None,
    quantization: Annotated[Quantization | None, typer.Option(help="Weight format.")] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(help="Ansible inventory: GPUs from the vllm group's vllm_gpus variable."),
    ] = None,
    mtp: Annotated[
        bool, typer.Option("--mtp", help="Plan MTP speculative decoding (draft head loaded).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Recommend model, quantization and vLLM settings for the GPUs; exit 1 if impossible."""
    try:
        inv = _inventory(gpus, nodes, inventory)
        arch = model(model_name) if model_name else None
        result = plan(PlanRequest(inv, context, tps, arch, quantization, mtp))
    except InvalidRequest as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(_as_json(result), indent=2))
        return
    table = Table(title=f"Plan for {context}-token context at ≥ {tps:g} tok/s per user")
    table.add_column("")
    table.add_column("")
    for key, value in _rows(result):
        table.add_row(key, value)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the main app."""
    app.command("plan")(plan_command)
