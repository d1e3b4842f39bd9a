"""The archive of issued quarterly supervision reports (季度督查通报): every
file the system issued, kept so that it downloads later byte for byte."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow
from .plans import Plan, ReportingPeriod
from .reports import Report
from .types import UTCDateTime, named_enum
from .users import User


class ExportFormat(enum.Enum):
    DOCX = "docx"
    XLSX = "xlsx"
    CSV = "csv"

    @property
    def label(self) -> str:
        return {"docx": "Word 通报", "xlsx": "Excel 台账", "csv": "CSV 台账"}[self.value]

    @property
    def media_type(self) -> str:
        return {
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "csv": "text/csv; charset=utf-8",
        }[self.value]


class IssuedReport(Base):
    """One issued file. The bytes live in the archive store under their
    SHA-256; the row says what it is, who issued it and when."""

    __tablename__ = "issued_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id", ondelete="CASCADE"), index=True)
    format: Mapped[ExportFormat] = mapped_column(named_enum(ExportFormat, "export_format"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    # Copied, so the row still says who it was if the account is renamed;
    # empty id for a report issued from the command line without --as.
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    issued_by_login: Mapped[str] = mapped_column(String(64), default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # 下一步工作要求 as the coordinator wrote it before issuing (the 通报's last section).
    next_steps: Mapped[str] = mapped_column(Text, default="", server_default="")

    plan: Mapped[Plan] = relationship()
    period: Mapped[ReportingPeriod] = relationship()
    issued_by: Mapped[User | None] = relationship()


# The dashboard and the quarterly report read approved lead reports of a
# plan's periods. With only the single-column indexes SQLite picks the one on
# `state` and reads every approved report of every plan, so the time grew
# with the whole database; this index keeps it to the plan's own periods.
# (Declared here rather than in reports.py, the reporting workflow's module.)
Index("ix_reports_period_id_state", Report.period_id, Report.state)
