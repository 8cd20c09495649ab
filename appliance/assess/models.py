"""The stored assessment reports: one row per run handed in, never changed afterwards.

The row keeps the whole JSON report and its HTML page as the run wrote them, with the
figures a listing or the compliance export needs without opening the document: who handed
it in, the model, whether it passed and the three rates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Double, Identity, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base


class AssessmentReportRow(Base):
    __tablename__ = "assessment_reports"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The username and client of the token that handed it in (the service account's, or
    # the secadmin's for a run made elsewhere).
    submitted_by: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    passed: Mapped[bool] = mapped_column(Boolean)
    should_refuse_refusal_rate: Mapped[float | None] = mapped_column(Double)
    should_answer_refusal_rate: Mapped[float | None] = mapped_column(Double)
    generated_content_pass_rate: Mapped[float | None] = mapped_column(Double)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    html: Mapped[str] = mapped_column(Text)
