"""``appliance kb ingest``: bulk upload of a folder into a knowledge base, for IT admins.

It goes through the gateway like any other client, with a kb-editor's bearer token, so the
same authorization, limits and audit log apply as for an upload from the web UI. Each file
is sent on its own, which keeps every request small and lets one bad file fail alone.

Resumable: before uploading, it lists the knowledge base's documents and skips every file
whose relative path and SHA-256 match a document that is already ``ready``; the service
also flags an identical re-upload as a duplicate rather than indexing it twice. Re-running
after an interruption therefore only sends what is missing or changed.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from appliance.runtime.endpoints import GATEWAY_URL

kb_app = typer.Typer(help="Knowledge bases: bulk ingestion.", no_args_is_help=True)

TOKEN_ENV = "APPLIANCE_TOKEN"  # noqa: S105 - the name of a variable, not a secret
# Indexing runs while the upload request waits: allow for a slow CPU embedder.
UPLOAD_TIMEOUT_S = 1800.0


@dataclass
class Summary:
    uploaded: int = 0
    skipped: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def _files(root: Path) -> list[Path]:
    """Regular files under ``root``, hidden files and folders left out, in a stable order."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
    return found


def _error_text(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error.get("code") or response.status_code), str(error.get("message"))
    except (ValueError, KeyError, TypeError):
        return str(response.status_code), response.text[:200]


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        code, message = _error_text(response)
        raise typer.BadParameter(f"the gateway answered {response.status_code} ({code}): {message}")
    return response.json()


def _find_kb(client: httpx.Client, kb: str) -> dict[str, Any]:
    """The knowledge base named (or with the id) ``kb`` among those the token may read."""
    listed = _check(client.get("/api/kb"))["knowledge_bases"]
    matches = [item for item in listed if kb in (item["id"], item["name"])]
    if not matches:
        raise typer.BadParameter(f"no knowledge base named {kb!r} is visible to this token")
    if len(matches) > 1:
        ids = ", ".join(f"{m['id']} ({m['group'] or 'organisation'})" for m in matches)
        raise typer.BadParameter(f"several knowledge bases are named {kb!r}; pass an id: {ids}")
    return dict(matches[0])


def _upload(
    client: httpx.Client,
    kb_id: str,
    name: str,
    data: bytes,
    summary: Summary,
    *,
    grade: str | None,
) -> None:
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = client.post(
        f"/api/kb/{kb_id}/documents",
        files=[("files", (name, data, mime))],
        params={"grade": grade} if grade else None,
        timeout=UPLOAD_TIMEOUT_S,
    )
    if response.status_code >= 400:
        code, message = _error_text(response)
        summary.failed.append((name, code, message))
        return
    for result in response.json()["documents"]:
        if result["status"] != "ready":
            summary.failed.append((name, str(result.get("error_code")), str(result.get("error"))))
        elif result.get("duplicate"):
            summary.skipped += 1
        else:
            summary.uploaded += 1


def ingest_folder(
    client: httpx.Client,
    root: Path,
    kb: str,
    console: Console,
    *,
    show_progress: bool,
    grade: str | None = None,
) -> Summary:
    """Upload every new or changed file under ``root``; what happened to each, counted.
    ``grade`` is the new documents' own data grade (None: the knowledge base's)."""
    target = _find_kb(client, kb)
    documents = _check(client.get(f"/api/kb/{target['id']}/documents"))["documents"]
    present = {(d["name"], d["content_sha256"]) for d in documents if d["status"] == "ready"}
    paths = _files(root)
    summary = Summary()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        task = progress.add_task(f"ingesting into {target['name']}", total=len(paths))
        for path in paths:
            name = path.relative_to(root).as_posix()
            progress.update(task, description=name[-40:])
            data = path.read_bytes()
            if (name, hashlib.sha256(data).hexdigest()) in present:
                summary.skipped += 1
            else:
                _upload(client, target["id"], name, data, summary, grade=grade)
            progress.advance(task)
    return summary


def _report(summary: Summary, console: Console) -> None:
    console.print(
        f"uploaded {summary.uploaded}, skipped {summary.skipped} unchanged, "
        f"failed {len(summary.failed)}"
    )
    if summary.failed:
        table = Table("file", "error code", "reason", title="Files that were not indexed")
        for row in summary.failed:
            table.add_row(*row)
        console.print(table)


@kb_app.command("ingest")
def ingest(  # noqa: PLR0917 - Typer passes every option by keyword
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Folder to upload, recursively.")
    ],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name (or id).")],
    gateway: Annotated[str, typer.Option(help="Gateway base URL.")] = GATEWAY_URL,
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding a kb-editor's access token.")
    ] = TOKEN_ENV,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    grade: Annotated[
        str | None,
        typer.Option(help="Data grade of the new documents (一般, 重要, 核心); default: the KB's."),
    ] = None,
) -> None:
    """Upload a folder into a knowledge base; unchanged files are skipped, failures listed.

    Exits 1 when any file could not be indexed, so a scheduled job notices.
    """
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise typer.BadParameter(f"set {token_env} to a kb-editor's access token")
    console = Console()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=60.0) as client:
        summary = ingest_folder(client, directory, kb, console, show_progress=progress, grade=grade)
    _report(summary, console)
    if summary.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
