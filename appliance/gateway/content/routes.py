"""The keyword library's routes (``/api/content/keywords``), for the ``secadmin`` only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from appliance.gateway.content.serving import (
    CurrentContent,
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

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
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
        200: {"content": {"text/csv": {}}, "description": "The library as UTF-8 CSV."},
        **errors(*AUTHENTICATED, 403),
    },
)
async def export_library(ctx: CurrentContent) -> Response:
    """The active library as the CSV file an import reads (UTF-8 with a byte-order mark)."""
    revision, data = await export(ctx)
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="keywords-r{revision.id}.csv"',
            "X-Library-Revision": str(revision.id),
        },
    )


@router.post(
    "/import", responses=errors(*AUTHENTICATED, 400, 403, 409, 413), openapi_extra=_CSV_BODY
)
async def import_keywords(
    request: Request,
    ctx: CurrentContent,
    dry_run: bool = False,
    base_revision: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Replace the library with the CSV file in the body (``id,term,category,match,action``).
    With ``dry_run`` only the diff against the active version is returned; otherwise the
    import is audited before it is stored (503 and nothing stored when it cannot be), and
    ``base_revision`` (from the dry run) refuses it with 409 if the library changed since."""
    data = await read_body(request, ctx.max_import_bytes)
    if dry_run:
        return await preview_import(ctx, data)
    return await import_library(ctx, data, base_revision=base_revision)
