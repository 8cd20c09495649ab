"""The keyword library's tables: one row per imported version, and its entries in order.

Every import adds a version and never changes an earlier one, so what the filter held at
any time can be shown (the audit row of the import names the version it created). The
active library is the newest version; an appliance with no version yet filters nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base


class KeywordLibraryRow(Base):
    __tablename__ = "keyword_libraries"

    # The revision: increases with each import, so "has the library changed" is one read.
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    # The library's content hash (``KeywordLibrary.version``).
    version: Mapped[str] = mapped_column(Text)
    entry_count: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class KeywordEntryRow(Base):
    __tablename__ = "keyword_entries"

    library_id: Mapped[int] = mapped_column(
        ForeignKey("keyword_libraries.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(Text)
    term: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    match: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
