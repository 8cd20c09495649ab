"""Entry point of the `appliance` command; each area registers its own commands."""

from __future__ import annotations

import typer

from appliance.cli import (
    accounts_cmds,
    assess_cmds,
    audit_cmds,
    bench_cmds,
    bundle_cmds,
    compliance_cmds,
    db_cmds,
    deploy_cmds,
    kb_cmds,
    keys_cmds,
    label_cmds,
    plan_cmds,
    runtime_cmds,
)

app = typer.Typer(
    name="appliance",
    help="On-premise DeepSeek-R1 appliance: run, audit, plan and operate it.",
    no_args_is_help=True,
    add_completion=False,
)
runtime_cmds.register(app)
audit_cmds.register(app)
db_cmds.register(app)
plan_cmds.register(app)
bench_cmds.register(app)
deploy_cmds.register(app)
bundle_cmds.register(app)
kb_cmds.register(app)
accounts_cmds.register(app)
assess_cmds.register(app)
compliance_cmds.register(app)
label_cmds.register(app)
keys_cmds.register(app)
