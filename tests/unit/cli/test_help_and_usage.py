"""``appliance`` as an operator meets it: every group explains itself, and a mistyped
command line is refused with a message that says what is wrong, exit code 2, before
anything runs."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from appliance.cli.main import app

runner = CliRunner()
# Typer draws help and errors in boxes that wrap at the terminal's width.
_BOX = re.compile(r"[─│╭╮╰╯]")


def plain(output: str) -> str:
    """The words of the output, box drawing removed and whitespace collapsed."""
    return " ".join(_BOX.sub(" ", output).split())


COMMANDS = [
    "up", "down", "status", "plan", "bench", "preflight", "deploy", "add-gpu-node",
    "upgrade", "backup", "restore", "reset", "audit", "db", "bundle", "kb",
]  # fmt: skip


def test_the_top_level_help_lists_every_command_but_the_roles_own() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    words = plain(result.output).split()
    assert [command for command in COMMANDS if command not in words] == []
    # The vllm role's helper is not for operators.
    assert "render-launch" not in words


def test_no_arguments_shows_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage: appliance" in result.output
    assert "deploy" in plain(result.output).split()


@pytest.mark.parametrize(
    ("group", "what", "subcommands"),
    [
        ("audit", "Tamper-evident audit log.", ["verify", "keygen"]),
        ("db", "Database schema.", ["upgrade"]),
        ("bundle", "Build and verify the offline installation bundle.", ["build", "verify"]),
        ("kb", "Knowledge bases: bulk ingestion.", ["ingest"]),
    ],
)
def test_each_group_says_what_it_is_for_and_lists_its_commands(
    group: str, what: str, subcommands: list[str]
) -> None:
    result = runner.invoke(app, [group, "--help"])
    assert result.exit_code == 0, result.output
    text = plain(result.output)
    assert what in text
    assert all(sub in text.split() for sub in subcommands)


@pytest.mark.parametrize(
    "command",
    ["up", "plan", "bench", "deploy", "render-launch", "audit verify", "kb ingest"],
)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: appliance {command}" in plain(result.output)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy"], "Missing option '-i' / '--inventory'."),
        (["render-launch", "--served-model-name", "r1"], "Missing option '--model-dir'."),
        (["plan", "--gpus", "8xH20", "--nodes", "0"], "Invalid value for '--nodes'"),
        (
            ["plan", "--gpus", "8xH20", "--quantization", "int3"],
            "Invalid value for '--quantization'",
        ),
        (["up", "--only", "redis"], "Invalid value for '--only'"),
        (["plan", "--gpu", "8xH20"], "No such option: --gpu"),
        (["deplyo"], "No such command 'deplyo'."),
    ],
)
def test_a_mistyped_command_line_is_refused_with_the_reason(argv: list[str], message: str) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    text = plain(result.output)
    assert message in text
    assert f"Try 'appliance {argv[0]}" in text or "Try 'appliance --help'" in text
