"""Progress reports (进展情况报送), contributions of co-units, their submitted
versions, evidence (佐证材料), milestones (节点) and deadline extensions."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow
from .plans import ReportingPeriod, Target, Task
from .types import UTCDateTime, named_enum
from .units import Unit
from .users import User


class ReportKind(enum.Enum):
    CONTRIBUTION = "contribution"  # a co-unit's input to the lead
    LEAD_REPORT = "lead_report"  # the lead unit's report on the task to the coordinators

    @property
    def label(self) -> str:
        return "配合单位报送" if self is ReportKind.CONTRIBUTION else "牵头单位报告"


class ReportState(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"  # a contribution taken in by the lead
    APPROVED = "approved"  # a lead report approved by a coordinator

    @property
    def label(self) -> str:
        return REPORT_STATE_LABELS[self]


REPORT_STATE_LABELS = {
    ReportState.DRAFT: "草稿",
    ReportState.SUBMITTED: "已报送",
    ReportState.RETURNED: "已退回",
    ReportState.ACCEPTED: "已采纳",
    ReportState.APPROVED: "已审核通过",
}


class Report(Base):
    """One unit's report on one task for one period. A lead report is filed by
    the lead unit; a contribution by a co-responsible unit."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("task_id", "period_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[ReportKind] = mapped_column(named_enum(ReportKind, "report_kind"))
    state: Mapped[ReportState] = mapped_column(
        named_enum(ReportState, "report_state"), default=ReportState.DRAFT, index=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the item was first submitted: punctuality is judged on this.
    first_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    task: Mapped[Task] = relationship()
    period: Mapped[ReportingPeriod] = relationship()
    unit: Mapped[Unit] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    values: Mapped[list[ReportValue]] = relationship(
        back_populates="report", cascade="all, delete-orphan", lazy="selectin"
    )
    versions: Mapped[list[ReportVersion]] = relationship(
        back_populates="report", order_by="ReportVersion.number", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="report", order_by="Evidence.uploaded_at", foreign_keys="Evidence.report_id"
    )

    __mapper_args__ = {"version_id_col": version}


class ReportValue(Base):
    """The value a report gives for one of the task's targets."""

    __tablename__ = "report_values"
    __table_args__ = (UniqueConstraint("report_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))

    report: Mapped[Report] = relationship(back_populates="values")
    target: Mapped[Target] = relationship()


class ReportInclusion(Base):
    """A contribution that the lead's report cites and includes."""

    __tablename__ = "report_inclusions"
    __table_args__ = (UniqueConstraint("report_id", "contribution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)


class ReportVersion(Base):
    """A submitted version of a report, kept unchanged for the record."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # {target_id: "value"} and the evidence/contribution ids at submission.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    report: Mapped[Report] = relationship(back_populates="versions")
    submitted_by: Mapped[User] = relationship()


class MilestoneState(enum.Enum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DONE_CLAIMED = "done_claimed"  # the lead says it is done; awaiting the coordinator
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return {
            "proposed": "待确认",
            "confirmed": "已确认",
            "done_claimed": "待验收",
            "completed": "已完成",
        }[self.value]


class Milestone(Base):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    due_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[MilestoneState] = mapped_column(
        named_enum(MilestoneState, "milestone_state"), default=MilestoneState.PROPOSED, index=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    reject_reason: Mapped[str | None] = mapped_column(Text)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    task: Mapped[Task] = relationship()
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="milestone", foreign_keys="Evidence.milestone_id"
    )

    __mapper_args__ = {"version_id_col": version}


class ExtensionState(enum.Enum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


class ExtensionRequest(Base):
    """申请延期: the lead asks to move a task's deadline."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    old_deadline: Mapped[date | None] = mapped_column(Date)
    new_deadline: Mapped[date] = mapped_column(Date)
    state: Mapped[ExtensionState] = mapped_column(
        named_enum(ExtensionState, "extension_state"), default=ExtensionState.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # policy.can("task.request", request) and the pages read the task.
    task: Mapped[Task] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])


class Evidence(Base):
    """An uploaded file backing a report, a milestone or a request to close.
    The bytes live in the evidence store under their SHA-256, once."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(120))
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    report: Mapped[Report | None] = relationship(back_populates="evidence", foreign_keys=[report_id])
    milestone: Mapped[Milestone | None] = relationship(back_populates="evidence", foreign_keys=[milestone_id])
    uploaded_by: Mapped[User] = relationship()
