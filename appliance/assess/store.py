"""The assessment reports in PostgreSQL: add one, read the latest.

May import ``appliance.db`` and the modules beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from appliance.assess.models import AssessmentReportRow
from appliance.assess.thresholds import ALL


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int
    created_at: datetime
    submitted_by: str
    client_id: str
    model: str
    passed: bool
    report: dict[str, Any]
    html: str


def _stored(row: AssessmentReportRow) -> StoredReport:
    return StoredReport(
        row.id,
        row.created_at,
        row.submitted_by,
        row.client_id,
        row.model,
        row.passed,
        row.report,
        row.html,
    )


class ReportStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self, report: dict[str, Any], html: str, *, submitted_by: str, client_id: str
    ) -> StoredReport:
        """Store a report as handed in; the rates are copied from its ``summary``."""
        summary = report.get("summary", {})
        rates = {t.key: (summary.get(t.key) or {}).get("rate") for t in ALL}
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    insert(AssessmentReportRow)
                    .values(
                        submitted_by=submitted_by,
                        client_id=client_id,
                        model=str(report.get("model", "")),
                        passed=bool(report.get("passed")),
                        report=report,
                        html=html,
                        **rates,
                    )
                    .returning(AssessmentReportRow)
                )
            ).one()
        return _stored(AssessmentReportRow(**row._mapping))

    async def latest(self) -> StoredReport | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(AssessmentReportRow).order_by(AssessmentReportRow.id.desc()).limit(1)
                )
            ).first()
        return None if row is None else _stored(AssessmentReportRow(**row._mapping))
