"""The keyword library's routes (``/api/content/keywords``), for the ``secadmin`` only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from appliance.gateway.content.serving import (
    CurrentContent,
    LibraryFormat,
    audit_read,
    entry_out,
    export,
    import_library,
    preview_import,
    revision_out,
)
from appliance.gateway.edge.body import read_body
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api/content/keywords", tags=["content"])

_FILE = {"schema": {"type": "string", "format": "binary"}}
_LIBRARY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": _FILE, LibraryFormat.XLSX.media_type: _FILE},
    }
}


@router.get("", responses=errors(*AUTHENTICATED, 403, 422))
async def list_entries(
    ctx: CurrentContent,
    search: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The active library's entries in file order, a page at a time; ``search`` finds a
    substring of the id, term or category, ``category`` one category."""
    page = await ctx.keywords.store.page(
        search=search, category=category, offset=offset, limit=limit
    )
    audit_read(ctx, "keywords.list", revision=page.revision.id, search=search, category=category)
    return {
        **revision_out(page.revision),
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "entries": [entry_out(e) for e in page.entries],
    }


@router.get("/versions", responses=errors(*AUTHENTICATED, 403))
async def versions(ctx: CurrentContent) -> dict[str, Any]:
    """The stored versions, newest (the active one) first."""
    revisions = await ctx.keywords.store.revisions()
    audit_read(ctx, "keywords.versions")
    return {"versions": [revision_out(r) for r in revisions]}


@router.get(
    "/export",
    responses={
        200: {
            "content": {"text/csv": {}, LibraryFormat.XLSX.media_type: {}},
            "description": "The library as UTF-8 CSV or an Excel workbook.",
        },
        **errors(*AUTHENTICATED, 403, 422),
    },
)
async def export_library(
    ctx: CurrentContent,
    fmt: Annotated[LibraryFormat, Query(alias="format")] = LibraryFormat.CSV,
) -> Response:
    """The active library as the file an import reads: CSV (UTF-8 with a byte-order mark)
    or, with ``format=xlsx``, an Excel workbook of the same columns."""
    revision, data = await export(ctx, fmt)
    name = f"keywords-r{revision.id}.{fmt}"
    return Response(
        data,
        media_type=fmt.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Library-Revision": str(revision.id),
        },
    )


@router.post(
    "/import", responses=errors(*AUTHENTICATED, 400, 403, 409, 413), openapi_extra=_LIBRARY_BODY
)
async def import_keywords(
    request: Request,
    ctx: CurrentContent,
    dry_run: bool = False,
    base_revision: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Replace the library with the file in the body (``id,term,category,match,action``):
    an Excel workbook when its ``Content-Type`` is the XLSX one, CSV otherwise. With
    ``dry_run`` only the diff against the active version is returned; otherwise the import
    is audited before it is stored (503 and nothing stored when it cannot be), and
    ``base_revision`` (from the dry run) refuses it with 409 if the library changed since."""
    data = await read_body(request, ctx.max_import_bytes)
    fmt = LibraryFormat.of_body(request.headers.get("content-type", ""))
    if dry_run:
        return await preview_import(ctx, data, fmt)
    return await import_library(ctx, data, fmt, base_revision=base_revision)
