"""``appliance preflight|deploy|add-gpu-node|status|upgrade|backup|restore|reset -i INVENTORY``.

Each command runs one playbook through ansible-runner with a live progress line (current
host and task, ok/changed/failed counts), prints a per-host summary, saves the full Ansible
log, and exits non-zero naming the failing host, task and message. The commands that change
nodes (and preflight) first check the inventory and the vault on the controller
(``appliance.provision.site_checks``) and stop before any node is touched; those that run
the preflight role print every node's report after the run; status prints a table.
``appliance render-launch`` is what the ``vllm`` role calls to get a node's vLLM replicas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from appliance.cli import runtime_cmds
from appliance.cli.site_status import (
    plain,
    preflight_lines,
    service_rows,
    status_table,
    summary,
)
from appliance.errors import InvalidRequest
from appliance.provision.events import RunTracker
from appliance.provision.node_launch_plan import NodeFacts, render
from appliance.provision.runner import RunRequest, RunResult, run_playbook
from appliance.provision.site_checks import check_inventory

Inventory = Annotated[
    Path, typer.Option("-i", "--inventory", help="Ansible inventory directory or file.")
]
VaultFile = Annotated[
    Path | None,
    typer.Option("--vault-password-file", help="ansible-vault password file for the secrets."),
]
Limit = Annotated[str | None, typer.Option("--limit", help="Only these hosts (Ansible pattern).")]
ExtraVars = Annotated[
    list[str] | None, typer.Option("-e", "--extra-var", help="key=value, repeatable.")
]

console = Console(stderr=True)


def _extravars(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidRequest(f"extra variable must read key=value, got {pair!r}")
        out[key] = value
    return out


def check_site(what: str, request: RunRequest) -> None:
    """The controller-side checks; every problem listed, then exit 1 before any node is touched."""
    try:
        problems = check_inventory(
            request.inventory, request.vault_password_file, request.extravars
        )
    except InvalidRequest as exc:
        console.print(f"[red]error: {exc.message}[/red]")
        raise typer.Exit(1) from exc
    if not problems:
        return
    console.print(
        f"{what}: the inventory {request.inventory} is not ready "
        f"({len(problems)} problem{'s' if len(problems) != 1 else ''}); no node was touched:",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for problem in problems:
        console.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)


def report(result: RunResult, what: str) -> None:
    """Summary, log location, and the exit status (1 on failure, naming host/task/message)."""
    for line in preflight_lines(result.tracker.artifacts):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in result.tracker.summary_lines():
        console.print(line, highlight=False)
    console.print(f"full log: {result.log_file}", highlight=False)
    if result.ok:
        console.print(f"[green]{what}: done[/green]")
        return
    for failure in result.tracker.failures:
        console.print(f"[red]{plain(str(failure))}[/red]", highlight=False)
    if not result.tracker.failures:
        console.print(f"[red]{what}: ansible-playbook ended {result.status} (rc={result.rc})[/red]")
    raise typer.Exit(1)


def report_status(result: RunResult) -> None:
    """The status table and its summary line; exit 1 when a service is not healthy."""
    rows = service_rows(result.tracker.artifacts)
    out = Console()
    if not out.is_terminal:
        out = Console(width=200)  # a pipe or a log: one line per row, never wrapped
    if rows:
        out.print(status_table(rows))
        out.print(summary(rows), highlight=False)
    for failure in result.tracker.failures:
        console.print(f"[red]{plain(str(failure))}[/red]", highlight=False)
    console.print(f"full log: {result.log_file}", highlight=False)
    if not result.ok or not rows or not all(row.healthy for row in rows):
        raise typer.Exit(1)
    console.print("[green]status: done[/green]")


def _run(playbook: str, what: str, inventory: Path, *, check: bool = False, **kwargs: Any) -> None:
    request = RunRequest(playbook=playbook, inventory=inventory, **kwargs)
    if check:
        check_site(what, request)
    try:
        with console.status(f"{what}: starting") as status:

            def show(tracker: RunTracker) -> None:
                status.update(f"{what}: {tracker.progress_line()}")

            result = run_playbook(request, show)
    except InvalidRequest as exc:
        console.print(f"[red]error: {exc.message}[/red]")
        raise typer.Exit(1) from exc
    if playbook == "status":
        report_status(result)
    else:
        report(result, what)


def _common(
    inventory: Path, vault: Path | None, limit: str | None, extra: list[str] | None
) -> dict[str, Any]:
    return {
        "inventory": inventory,
        "vault_password_file": vault,
        "limit": limit,
        "extravars": _extravars(extra),
    }


def preflight(
    inventory: Inventory, vault_password_file: VaultFile = None, limit: Limit = None,
    extra_var: ExtraVars = None,
) -> None:  # fmt: skip
    """Check every node (OS, CPU, memory, disk, GPUs, ports, time, DNS); changes nothing."""
    common = _common(inventory, vault_password_file, limit, extra_var)
    _run("preflight", "preflight", check=True, **common)


def deploy(
    inventory: Inventory, vault_password_file: VaultFile = None, limit: Limit = None,
    extra_var: ExtraVars = None,
    tags: Annotated[str | None, typer.Option(help="Only these role phases.")] = None,
) -> None:  # fmt: skip
    """Install or converge the whole appliance (site.yml)."""
    common = _common(inventory, vault_password_file, limit, extra_var)
    _run("site", "deploy", check=True, tags=tags, **common)


def add_gpu_node(
    inventory: Inventory, vault_password_file: VaultFile = None, extra_var: ExtraVars = None,
) -> None:  # fmt: skip
    """Bring up the GPU nodes added to the vllm group, then tell the gateway (add-gpu-node.yml).

    Every GPU node is planned and converged, since the gateway's backend list is built from
    all their replicas; the nodes already serving are left running as they are."""
    common = _common(inventory, vault_password_file, None, extra_var)
    _run("add-gpu-node", "add-gpu-node", check=True, **common)


def status(
    inventory: Annotated[
        Path | None,
        typer.Option("-i", "--inventory", help="A deployed site; without it, the local runtime."),
    ] = None,
    vault_password_file: VaultFile = None,
) -> None:
    """Every node's services: state, health check, version and model (the deployed site with
    -i, else the local runtime); exits 1 unless all are healthy."""
    if inventory is None:
        runtime_cmds.status()
        return
    _run("status", "status", **_common(inventory, vault_password_file, None, None))


def upgrade(
    inventory: Inventory, vault_password_file: VaultFile = None, extra_var: ExtraVars = None,
) -> None:  # fmt: skip
    """Back up, then upgrade the control node and one GPU node at a time."""
    _run(
        "upgrade", "upgrade", check=True, **_common(inventory, vault_password_file, None, extra_var)
    )


def backup(
    inventory: Inventory, vault_password_file: VaultFile = None, extra_var: ExtraVars = None,
) -> None:  # fmt: skip
    """Dump the database and configuration to the controller (backup.yml)."""
    _run("backup", "backup", **_common(inventory, vault_password_file, None, extra_var))


def restore(
    inventory: Inventory,
    archive: Annotated[str, typer.Option(help="Backup directory on the controller.")],
    vault_password_file: VaultFile = None,
) -> None:
    """Restore a backup onto the control node (restore.yml)."""
    common = _common(inventory, vault_password_file, None, None)
    common["extravars"]["backup_restore_from"] = archive
    _run("restore", "restore", **common)


def reset(
    inventory: Inventory,
    vault_password_file: VaultFile = None,
    delete_data: Annotated[
        bool, typer.Option(help="Also delete the database, models and backups.")
    ] = False,
) -> None:
    """Remove the appliance's services; data stays unless --delete-data."""
    common = _common(inventory, vault_password_file, None, None)
    common["extravars"]["reset_delete_data"] = delete_data
    _run("reset", "reset", **common)


def render_launch(
    *,
    model_dir: Annotated[str, typer.Option(help="Model directory on the node.")],
    served_model_name: Annotated[str, typer.Option(help="Name clients ask for.")],
    gpus: Annotated[str, typer.Option(help="GPUs of the node, e.g. 8xH20; empty: CPU.")] = "",
    nodes: Annotated[int, typer.Option(min=1)] = 1,
    node_index: Annotated[int, typer.Option(min=0)] = 0,
    head_address: str = "",
    cpus: Annotated[int, typer.Option(min=1)] = 2,
    host: str = "127.0.0.1",
    base_port: int = 8011,
    context: int = 32768,
    model_key: Annotated[str | None, typer.Option("--model")] = None,
    quantization: str | None = None,
) -> None:
    """Print (JSON) the vLLM replicas one node runs, as appliance.sizing plans them."""
    facts = NodeFacts(
        model_dir=model_dir, served_model_name=served_model_name, gpus=gpus or None,
        nodes=nodes, node_index=node_index, head_address=head_address, cpus=cpus, host=host,
        base_port=base_port, context=context, model_key=model_key, quantization=quantization,
    )  # fmt: skip
    try:
        typer.echo(json.dumps(render(facts), indent=1))
    except InvalidRequest as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Attach the provisioning commands; ``status`` takes over the runtime's (it delegates
    to it when no inventory is given)."""
    app.registered_commands = [
        c for c in app.registered_commands if c.callback is not runtime_cmds.status
    ]
    app.command()(preflight)
    app.command()(deploy)
    app.command("add-gpu-node")(add_gpu_node)
    app.command()(status)
    app.command()(upgrade)
    app.command()(backup)
    app.command()(restore)
    app.command()(reset)
    app.command("render-launch", hidden=True)(render_launch)
