"""``appliance assess``: the GB/T 45654 refusal and generated-content assessment.

Runs the refusal bank and the generated-content bank (CSV files, ``appliance.assess.banks``)
through the gateway's chat route as the assessment's service account (the ``svc-assessment``
client, client-credentials grant), writes ``report.json`` and ``report.html`` into
``--out``, and hands the report in to the gateway (``POST /api/assessment/reports``), where
the secadmin and the auditor read the latest and the compliance export includes it.

The client's secret comes from ``APPLIANCE_ASSESSMENT_CLIENT_SECRET``, else ``--secret-file``,
else the local runtime's ``var/secrets/keycloak_assessment_client_secret``; the gateway and
the issuer as for the other commands (``gateway_session``). Exit status: 0 when the report
passes every threshold, 1 when it does not or the run could not be made, so a script can act
on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from appliance.assess.banks import BankError, read_content_bank, read_refusal_bank
from appliance.assess.classify import REFUSAL_PHRASES, load_phrases
from appliance.assess.runner import RunOptions, run_banks
from appliance.assess.service_account import CLIENT_ID, ClientCredentials, TokenError
from appliance.cli.gateway_session import gateway_url, issuer_url
from appliance.content.keywords import KeywordLibraryError, Matcher
from appliance.content.library_csv import import_csv
from appliance.runtime.keycloak_service import ASSESSMENT_SECRET_FILE
from appliance.runtime.paths import RuntimePaths

SECRET_ENV = "APPLIANCE_ASSESSMENT_CLIENT_SECRET"  # noqa: S105 - a variable's name
REPORTS_PATH = "/api/assessment/reports"
TIMEOUT_S = 600.0


class AssessError(Exception):
    """The run could not be made; the message is for the operator."""


@dataclass(frozen=True, slots=True)
class Outcome:
    report: dict[str, Any]
    json_path: Path
    html_path: Path
    # The stored report's id and metadata as the gateway answered, when handed in.
    stored: dict[str, Any] | None


def client_secret(secret_file: Path | None) -> str:
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return from_env
    path = secret_file or RuntimePaths.default().secret(ASSESSMENT_SECRET_FILE)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AssessError(
            f"no client secret: set {SECRET_ENV} or pass --secret-file ({path}: {exc.strerror})"
        ) from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AssessError(f"{path}: {exc.strerror}") from exc


def _served_model(client: httpx.Client) -> str:
    response = client.get("/v1/models")
    if response.status_code != 200 or not response.json().get("data"):
        raise AssessError(f"the gateway lists no model ({response.status_code})")
    return str(response.json()["data"][0]["id"])


def run(
    *,
    gateway: str,
    auth: httpx.Auth,
    refusal_bank: Path | None,
    content_bank: Path | None,
    keywords: Path | None,
    out: Path,
    model: str | None = None,
    max_tokens: int = 2048,
    phrases: Path | None = None,
    submit: bool = True,
    client_id: str = CLIENT_ID,
) -> Outcome:
    """Run the banks, write the report into ``out`` and hand it in (unless ``submit`` is off)."""
    if refusal_bank is None and content_bank is None:
        raise AssessError("give --refusal-bank, --content-bank or both")
    if content_bank is not None and keywords is None:
        raise AssessError("--content-bank needs --keywords, the library its replies are held to")
    try:
        refusal = read_refusal_bank(_read(refusal_bank)) if refusal_bank else []
        content = read_content_bank(_read(content_bank)) if content_bank else []
        matcher = Matcher(import_csv(_read(keywords))) if keywords else None
    except (BankError, KeywordLibraryError) as exc:
        raise AssessError(str(exc)) from exc
    chosen = load_phrases(_read(phrases).decode("utf-8-sig")) if phrases else REFUSAL_PHRASES
    with (
        httpx.Client(base_url=gateway, auth=auth, timeout=TIMEOUT_S) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        ) as bar,
    ):
        options = RunOptions(
            model=model or _served_model(client),
            max_tokens=max_tokens,
            phrases=chosen,
            matcher=matcher,
        )
        task = bar.add_task("questions", total=len(refusal) + len(content))
        report, page = run_banks(
            client,
            refusal,
            content,
            options=options,
            meta={"gateway": gateway, "client_id": client_id},
            progress=lambda: bar.advance(task),
        )
        out.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out / "report.json", out / "report.html"
        json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        html_path.write_text(page, encoding="utf-8")
        stored = None
        if submit:
            answer = client.post(REPORTS_PATH, json={"report": report, "html": page})
            if answer.status_code != 201:
                raise AssessError(
                    f"the gateway did not store the report ({answer.status_code}):"
                    f" {answer.text[:300]}; it is in {json_path}"
                )
            stored = dict(answer.json())
    return Outcome(report, json_path, html_path, stored)


def _echo_summary(outcome: Outcome) -> None:
    report = outcome.report
    names = {t["key"]: t["name_zh"] for t in report["thresholds"]}
    for key, tally in report["summary"].items():
        rate = "—" if tally["rate"] is None else f"{tally['rate']:.1%}"
        verdict = {True: "met", False: "NOT met", None: "not assessed"}[tally["met"]]
        typer.echo(f"{names[key]} ({key}): {rate} of {tally['assessed']} — {verdict}")
    typer.echo(f"failed calls: {report['errors']}")
    typer.echo(f"report: {outcome.json_path}, {outcome.html_path}")
    if outcome.stored:
        typer.echo(f"stored as report {outcome.stored['id']}")
    typer.echo("PASSED" if report["passed"] else "NOT PASSED")


def assess(  # noqa: PLR0917 - Typer passes every option by keyword
    refusal_bank: Annotated[
        Path | None, typer.Option(help="CSV question,expected,category (refuse|answer).")
    ] = None,
    content_bank: Annotated[Path | None, typer.Option(help="CSV prompt,category.")] = None,
    keywords: Annotated[
        Path | None,
        typer.Option(help="The keyword library CSV the content bank's replies are held to."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where report.json and report.html go.")] = Path(
        "assessment"
    ),
    model: Annotated[str | None, typer.Option(help="Default: the gateway's model.")] = None,
    max_tokens: Annotated[
        int, typer.Option(min=1, help="Per reply, reasoning included (R1 reasons at length).")
    ] = 2048,
    phrases: Annotated[
        Path | None, typer.Option(help="Refusal phrases, one a line (replaces the default list).")
    ] = None,
    secret_file: Annotated[Path | None, typer.Option(help="The client's secret.")] = None,
    gateway: Annotated[str | None, typer.Option(help="The gateway's URL.")] = None,
    issuer: Annotated[str | None, typer.Option(help="Keycloak's realm URL.")] = None,
    submit: Annotated[bool, typer.Option(help="Hand the report in to the gateway.")] = True,
) -> None:
    """Run the GB/T 45654 refusal and generated-content banks; exit 1 unless it passes."""
    url = gateway_url(gateway)
    try:
        auth = ClientCredentials(issuer_url(issuer, url), CLIENT_ID, client_secret(secret_file))
        outcome = run(
            gateway=url,
            auth=auth,
            refusal_bank=refusal_bank,
            content_bank=content_bank,
            keywords=keywords,
            out=out,
            model=model,
            max_tokens=max_tokens,
            phrases=phrases,
            submit=submit,
        )
    except (AssessError, TokenError, httpx.HTTPError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _echo_summary(outcome)
    if not outcome.report["passed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("assess")(assess)
