"""The compliance ZIP and permission matrix, without a running gateway: the manifest's
hashes against the gmssl reference SM3, the labels, and roles read from route guards."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from gmssl import sm3

from appliance.auth.principal import Principal, Role
from appliance.gateway.compliance.bundle import MANIFEST, build_zip
from appliance.gateway.compliance.permissions import matrix
from appliance.gateway.deps import (
    AuditorPrincipal,
    ComplianceReader,
    CurrentPrincipal,
    require_staff,
)
from appliance.labels.aigc import Stamp
from appliance.labels.files import verify

STAMP = Stamp("测试站点", "produce-1")


def test_every_file_is_labelled_and_hashed_in_the_manifest() -> None:
    sections: dict[str, dict[str, Any]] = {
        "accounts": {"users": [{"username": "赵敏"}]},
        "retention": {"days": 180},
    }
    with zipfile.ZipFile(io.BytesIO(build_zip(sections, STAMP, "2026-12-07T00:00:00Z"))) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    assert set(files) == {"accounts.json", "retention.json", MANIFEST}
    manifest = json.loads(files[MANIFEST])
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert entry["sm3"] == sm3.sm3_hash(list(files[name]))
        assert entry["size"] == len(files[name])
    for name, data in files.items():
        verdict = verify(name, data)
        assert verdict.ok, verdict.problems
        assert verdict.fields["ProduceID"] == "produce-1"
    assert json.loads(files["accounts.json"])["users"] == [{"username": "赵敏"}]


async def _chat_like(request: Request) -> Principal:
    """Awaits the guard in its body, as the chat route's context does."""
    return await require_staff(request)


def test_the_matrix_reads_each_routes_guard() -> None:
    router = APIRouter(prefix="/x")

    @router.get("/audit")
    async def audit(principal: AuditorPrincipal) -> None: ...

    @router.get("/evidence")
    async def evidence(principal: ComplianceReader) -> None: ...

    @router.post("/mine")
    async def mine(principal: CurrentPrincipal) -> None: ...

    @router.post("/chat")
    async def chat(principal: Annotated[Principal, Depends(_chat_like)]) -> None: ...

    @router.get("/open")
    async def open_route() -> None: ...

    app = FastAPI()
    app.include_router(router)
    rows = {(r["method"], r["path"]): r for r in matrix(app.routes)["routes"]}
    assert rows[("GET", "/x/audit")]["required_roles"] == [Role.AUDITOR.value]
    assert rows[("GET", "/x/evidence")]["required_roles"] == ["secadmin", "auditor"]
    assert rows[("GET", "/x/evidence")]["roles"]["staff"] is False
    assert rows[("POST", "/x/mine")]["access"] == "signed-in"
    assert all(rows[("POST", "/x/mine")]["roles"].values())
    assert rows[("POST", "/x/chat")]["required_roles"] == ["staff"]
    assert rows[("GET", "/x/open")]["access"] == "public"
