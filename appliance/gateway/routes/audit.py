"""Audit log access for the ``auditor`` role."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/audit", tags=["audit"])
