"""Plans (行动计划), their actions (行动), tasks (任务), responsible units,
targets (目标/指标) and the fiscal measures of an annex."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow
from .types import UTCDateTime, named_enum
from .units import Unit


class ReportingFrequency(enum.Enum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"


FREQUENCY_LABELS = {
    ReportingFrequency.MONTHLY: "按月",
    ReportingFrequency.QUARTERLY: "按季度",
    ReportingFrequency.HALF_YEARLY: "按半年",
}


class TaskState(enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    CLOSING_REQUESTED = "closing_requested"
    CLOSED = "closed"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return TASK_STATE_LABELS[self]


TASK_STATE_LABELS = {
    TaskState.NOT_STARTED: "未启动",
    TaskState.IN_PROGRESS: "推进中",
    TaskState.CLOSING_REQUESTED: "申请办结",
    TaskState.CLOSED: "已办结",
    TaskState.SUSPENDED: "暂缓",
}


class UnitRole(enum.Enum):
    LEAD = "lead"
    CO = "co"

    @property
    def label(self) -> str:
        return "牵头单位" if self is UnitRole.LEAD else "配合单位"


class TargetKind(enum.Enum):
    CUMULATIVE = "cumulative"
    ANNUAL = "annual"
    RATIO = "ratio"

    @property
    def label(self) -> str:
        return {"cumulative": "累计", "annual": "每年", "ratio": "倍数"}[self.value]


class PlanStatus(enum.Enum):
    """A plan is a draft (seen by coordinators only, owing nothing) until a
    coordinator publishes it."""

    DRAFT = "draft"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return "草稿" if self is PlanStatus.DRAFT else "已发布"


class PlanKind(enum.Enum):
    """A plan document (行动计划/实施方案), or a coordinator's list of
    standalone 督办事项 made by hand."""

    PLAN = "plan"
    ITEMS = "items"

    @property
    def label(self) -> str:
        return "行动计划" if self is PlanKind.PLAN else "督办事项"


class TaskSource(enum.Enum):
    """Where a task comes from."""

    PLAN = "plan"
    LEADER_INSTRUCTION = "leader_instruction"
    MEETING_DECISION = "meeting_decision"
    PROPOSAL = "proposal"
    OTHER = "other"

    @property
    def label(self) -> str:
        return TASK_SOURCE_LABELS[self]


TASK_SOURCE_LABELS = {
    TaskSource.PLAN: "行动计划",
    TaskSource.LEADER_INSTRUCTION: "领导批示",
    TaskSource.MEETING_DECISION: "会议议定事项",
    TaskSource.PROPOSAL: "人大建议/政协提案",
    TaskSource.OTHER: "其他",
}


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    issuing_office: Mapped[str] = mapped_column(String(120))
    issued_on: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    reporting_frequency: Mapped[ReportingFrequency] = mapped_column(
        named_enum(ReportingFrequency, "reporting_frequency"), default=ReportingFrequency.QUARTERLY
    )
    # A report is due this many working days after its period ends.
    report_due_working_days: Mapped[int] = mapped_column(default=5)
    # Overrides of the default reminder rules (supervise.domain.reminder_rules),
    # e.g. {"notice_working_days": 5}; NULL means the defaults.
    reminder_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    source_text: Mapped[str] = mapped_column(Text, default="")
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Published unless made as a draft (imports and plans by hand are, see
    # services/plans.py): a plan built in code reports as before.
    status: Mapped[PlanStatus] = mapped_column(
        named_enum(PlanStatus, "plan_status"), default=PlanStatus.PUBLISHED, server_default="published", index=True
    )
    kind: Mapped[PlanKind] = mapped_column(named_enum(PlanKind, "plan_kind"), default=PlanKind.PLAN, server_default="plan")
    # The first period units report for (e.g. 2025Q3): nothing is owed for
    # earlier ones. NULL on a draft; set when the plan is published.
    first_period: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The file the plan came from, and what the parser could not decide.
    source_filename: Mapped[str] = mapped_column(String(255), default="", server_default="")
    warnings: Mapped[list[str] | None] = mapped_column(JSON)

    @property
    def is_draft(self) -> bool:
        return self.status is PlanStatus.DRAFT

    sections: Mapped[list[Section]] = relationship(
        back_populates="plan", order_by="Section.number", cascade="all, delete-orphan"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="plan", order_by="Task.number", cascade="all, delete-orphan", viewonly=True
    )
    targets: Mapped[list[Target]] = relationship(
        primaryjoin="and_(Target.plan_id == Plan.id, Target.task_id.is_(None))",
        order_by="Target.position",
        viewonly=True,
    )
    measures: Mapped[list[FiscalMeasure]] = relationship(
        back_populates="plan", order_by="FiscalMeasure.number", cascade="all, delete-orphan"
    )
    periods: Mapped[list[ReportingPeriod]] = relationship(
        back_populates="plan", order_by="ReportingPeriod.starts_on", cascade="all, delete-orphan"
    )


class Section(Base):
    """One action (行动) of a plan, e.g. (一)实施主体引育壮大行动."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(120))

    plan: Mapped[Plan] = relationship(back_populates="sections")
    tasks: Mapped[list[Task]] = relationship(back_populates="section", order_by="Task.number")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date | None] = mapped_column(Date)
    # The deadline as first set; an extension changes `deadline` only.
    original_deadline: Mapped[date | None] = mapped_column(Date)
    state: Mapped[TaskState] = mapped_column(
        named_enum(TaskState, "task_state"), default=TaskState.NOT_STARTED, index=True
    )
    version: Mapped[int] = mapped_column(default=1)
    # Where the task comes from: a plan document, or (by hand) a leader's
    # instruction, a meeting decision, a proposal ... with its document.
    source: Mapped[TaskSource] = mapped_column(
        named_enum(TaskSource, "task_source"), default=TaskSource.PLAN, server_default="plan"
    )
    source_document_number: Mapped[str | None] = mapped_column(String(64))
    source_issued_on: Mapped[date | None] = mapped_column(Date)
    # The paragraph as the document has it (the review page shows it beside
    # what was extracted), the parser's warnings, and unit names the
    # directory does not know yet: [{"name": ..., "role": "lead"|"co"}],
    # each resolved by a coordinator before the plan is published.
    source_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    pending_units: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    starts_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    section: Mapped[Section] = relationship(back_populates="tasks")
    units: Mapped[list[TaskUnit]] = relationship(
        back_populates="task", order_by="TaskUnit.position", cascade="all, delete-orphan"
    )
    targets: Mapped[list[Target]] = relationship(
        back_populates="task", order_by="Target.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def lead(self) -> TaskUnit | None:
        return next((tu for tu in self.units if tu.role is UnitRole.LEAD), None)

    @property
    def co_units(self) -> list[TaskUnit]:
        return [tu for tu in self.units if tu.role is UnitRole.CO]


class TaskUnit(Base):
    """A unit responsible for a task, as lead (牵头) or co-responsible (配合)."""

    __tablename__ = "task_units"
    __table_args__ = (UniqueConstraint("task_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[UnitRole] = mapped_column(named_enum(UnitRole, "unit_role"))
    position: Mapped[int] = mapped_column(Integer)
    # For the lead: whether the document or a coordinator said so (True), or
    # the importer only proposed the first unit listed (False).
    is_confirmed: Mapped[bool] = mapped_column(default=False)
    # The collective the unit came from, e.g. "各市、县〔市、区〕政府".
    via_collective: Mapped[str | None] = mapped_column(String(60))

    task: Mapped[Task] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship(lazy="joined")


class Target(Base):
    """A quantitative target, of a task or (task_id NULL) of the plan as a whole."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(120), default="")
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    measure: Mapped[str] = mapped_column(String(16))
    comparator: Mapped[str] = mapped_column(String(16))
    kind: Mapped[TargetKind] = mapped_column(named_enum(TargetKind, "target_kind"))
    due_year: Mapped[int | None] = mapped_column(Integer)
    baseline_year: Mapped[int | None] = mapped_column(Integer)
    baseline_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    threshold: Mapped[str | None] = mapped_column(String(120))

    plan: Mapped[Plan] = relationship()
    task: Mapped[Task | None] = relationship(back_populates="targets")

    @property
    def kind_label(self) -> str:
        """每年 only for a yearly rate; a level reached in a year is "2027年"."""
        if self.kind is TargetKind.ANNUAL and self.due_year is not None:
            return f"{self.due_year}年"
        return self.kind.label
    allocations: Mapped[list[TargetAllocation]] = relationship(
        back_populates="target", cascade="all, delete-orphan"
    )


class TargetAllocation(Base):
    """A unit's share of a split target (目标分解)."""

    __tablename__ = "target_allocations"
    __table_args__ = (UniqueConstraint("target_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    baseline_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))

    target: Mapped[Target] = relationship(back_populates="allocations")
    unit: Mapped[Unit] = relationship()


class FiscalMeasure(Base):
    """An item of a plan's annex of fiscal policy measures (财政政策措施)."""

    __tablename__ = "fiscal_measures"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    group_number: Mapped[int] = mapped_column(Integer)
    group_title: Mapped[str] = mapped_column(String(120))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    cap_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # 万元
    subsidy_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # percent

    plan: Mapped[Plan] = relationship(back_populates="measures")


class ReportingPeriod(Base):
    """A period for which units owe progress reports, e.g. 2025Q2."""

    __tablename__ = "reporting_periods"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)

    plan: Mapped[Plan] = relationship(back_populates="periods")

    @property
    def label(self) -> str:
        return self.label_of(self.code)

    @staticmethod
    def label_of(code: str) -> str:
        """2025Q2 -> 2025年第二季度, 2025H1 -> 2025年上半年, 2025-05 -> 2025年5月
        (codes are stored as `domain.periods.parse_period` writes them)."""
        year, rest = code[:4], code[4:]
        if rest.startswith("Q"):
            return f"{year}年第{'一二三四'[int(rest[1]) - 1]}季度"
        if rest.startswith("H"):
            return f"{year}年{'上' if rest[1] == '1' else '下'}半年"
        return f"{year}年{int(rest[1:])}月"
