"""``appliance compliance export``: the 等保 2.0 level-3 evidence ZIP, from the gateway.

The command downloads ``GET /api/compliance/export`` with the caller's own token (a
secadmin's or an auditor's: ``APPLIANCE_TOKEN``, or a sign-in as ``--as``), so the export is
built and audited in one place (``appliance.gateway.compliance``) whoever asks for it; the
gateway and the issuer are found as for the other commands (``gateway_session``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from appliance.cli.gateway_session import Gateway, GatewayError, access_token, gateway_url
from appliance.cli.gateway_session import issuer_url as find_issuer

compliance_app = typer.Typer(help="等保 compliance evidence.", no_args_is_help=True)

EXPORT_PATH = "/api/compliance/export"


def export_zip(gw: Gateway, out: Path, *, lang: str = "zh") -> Path:
    """Write the export to ``out`` (a file, or a directory for the gateway's file name)."""
    response = gw.client.get(EXPORT_PATH, params={"lang": lang})
    if response.status_code != 200:
        raise GatewayError.of(response)
    if out.is_dir():
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or "compliance.zip"
        out = out / Path(name).name
    out.write_bytes(response.content)
    return out


@compliance_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="ZIP file to write, or a directory for it.")],
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Gateway URL (or APPLIANCE_GATEWAY_URL).")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Keycloak realm URL (or APPLIANCE_ISSUER).")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--as", help="secadmin or auditor to sign in as (asked).")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh, or en for English labels too.")] = "zh",
) -> None:
    """Download the accounts, permission matrix, audit statistics, retention status, keyword
    library version and last assessment, with a SHA-256 and SM3 manifest, as one ZIP."""
    url = gateway_url(gateway)
    try:
        token = access_token(find_issuer(issuer, url), username)
        gw = Gateway.open(url, token)
        try:
            written = export_zip(gw, out, lang=lang)
        finally:
            gw.close()
    except (GatewayError, httpx.HTTPError, OSError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"compliance export written to {written}")


def register(app: typer.Typer) -> None:
    """Attach ``appliance compliance ...`` to the main app."""
    app.add_typer(compliance_app, name="compliance")
